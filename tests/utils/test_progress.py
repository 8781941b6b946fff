# SPDX-License-Identifier: Apache-2.0
import threading

from tinify.utils.progress import listen, report


def test_reports_reach_the_listener_inside_the_block_only() -> None:
    seen: list[tuple[str, int, int]] = []
    report("tiles", 1, 2)
    with listen(lambda *a: seen.append(a)):
        report("tiles", 1, 2)
        with listen(None):
            report("tiles", 2, 2)
        report("wavefronts", 3)
    report("tiles", 2, 2)
    assert seen == [("tiles", 1, 2), ("wavefronts", 3, 0)]


def test_other_threads_do_not_see_a_listener() -> None:
    seen: list[tuple[str, int, int]] = []
    with listen(lambda *a: seen.append(a)):
        worker = threading.Thread(target=report, args=("frames", 1, 1))
        worker.start()
        worker.join()
    assert seen == []
