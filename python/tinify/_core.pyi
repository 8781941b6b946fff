"""Type stubs for the Rust extension ``tinify._core`` (see ``rust/tinify-py``)."""

from typing import final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PRECISION",
    "BitstreamError",
    "CdfError",
    "CdfTable",
    "FIXED_FRAC_BITS",
    "FixedLayer",
    "FixedNetwork",
    "ParameterError",
    "RansDecoder",
    "RansEncoder",
    "TinifyError",
    "__version__",
    "_after_fork_child",
    "decode_batch",
    "decode_chunked",
    "decode_mixture",
    "decode_mixture_batch",
    "decode_with_indexes",
    "encode_batch",
    "encode_chunked",
    "encode_mixture",
    "encode_mixture_batch",
    "encode_with_indexes",
    "fixed_scale_indexes",
    "fixed_softmax",
    "get_num_threads",
    "pmf_to_quantized_cdf",
    "pmfs_to_quantized_cdfs",
    "scale_indexes",
    "set_num_threads",
]

__version__: str
PRECISION: int
FIXED_FRAC_BITS: int

class TinifyError(ValueError): ...
class BitstreamError(TinifyError): ...
class CdfError(TinifyError): ...
class ParameterError(TinifyError): ...

@final
class CdfTable:
    def __new__(
        cls, cdfs: NDArray[np.int32], lengths: NDArray[np.int32], offsets: NDArray[np.int32]
    ) -> CdfTable: ...
    @staticmethod
    def gaussian(scale_table: NDArray[np.float32], tail_mass: float) -> CdfTable: ...
    @property
    def rows(self) -> int: ...
    def to_padded(self) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]: ...
    def __len__(self) -> int: ...

@final
class FixedLayer:
    @staticmethod
    def conv2d(
        weight: NDArray[np.float32], bias: NDArray[np.float32] | None, stride: int, padding: int
    ) -> FixedLayer: ...
    @staticmethod
    def conv_transpose2d(
        weight: NDArray[np.float32],
        bias: NDArray[np.float32] | None,
        stride: int,
        padding: int,
        output_padding: int,
    ) -> FixedLayer: ...
    @staticmethod
    def pixel_shuffle(r: int) -> FixedLayer: ...
    @staticmethod
    def relu() -> FixedLayer: ...
    @staticmethod
    def leaky_relu(slope: float) -> FixedLayer: ...
    def quantized(
        self,
    ) -> tuple[NDArray[np.int32], NDArray[np.uint32], NDArray[np.int64]] | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def geometry(self) -> tuple[int, int, int, int, int, int, int, int] | None: ...
    @property
    def factor(self) -> int | None: ...
    def forward(self, x: NDArray[np.int32]) -> NDArray[np.int32]: ...
    def forward_rows(self, x: NDArray[np.int32]) -> NDArray[np.int32]: ...

@final
class FixedNetwork:
    def __new__(cls, layers: list[FixedLayer]) -> FixedNetwork: ...
    def forward(self, x: NDArray[np.int32]) -> NDArray[np.int32]: ...
    def forward_rows(self, x: NDArray[np.int32]) -> NDArray[np.int32]: ...
    @property
    def layers(self) -> list[FixedLayer]: ...
    def __len__(self) -> int: ...

@final
class RansEncoder:
    def __new__(cls) -> RansEncoder: ...
    def put_with_indexes(
        self, symbols: NDArray[np.int32], indexes: NDArray[np.int32], table: CdfTable
    ) -> None: ...
    def put_mixture(
        self,
        symbols: NDArray[np.int32],
        weights: NDArray[np.float64],
        means: NDArray[np.float64],
        scales: NDArray[np.float64],
    ) -> None: ...
    def flush(self) -> bytes: ...
    def __len__(self) -> int: ...

@final
class RansDecoder:
    def __new__(cls, data: bytes) -> RansDecoder: ...
    def get_with_indexes(
        self, indexes: NDArray[np.int32], table: CdfTable
    ) -> NDArray[np.int32]: ...
    def get_mixture(
        self,
        weights: NDArray[np.float64],
        means: NDArray[np.float64],
        scales: NDArray[np.float64],
    ) -> NDArray[np.int32]: ...
    def finish(self) -> None: ...
    @property
    def decoded(self) -> int: ...

def pmf_to_quantized_cdf(pmf: NDArray[np.float32], precision: int = 16) -> NDArray[np.int32]: ...
def pmfs_to_quantized_cdfs(
    pmfs: NDArray[np.float32], lengths: NDArray[np.int64], precision: int = 16
) -> NDArray[np.int32]: ...
def encode_with_indexes(
    symbols: NDArray[np.int32], indexes: NDArray[np.int32], table: CdfTable
) -> bytes: ...
def decode_with_indexes(
    data: bytes, indexes: NDArray[np.int32], table: CdfTable
) -> NDArray[np.int32]: ...
def encode_batch(
    symbols: NDArray[np.int32], indexes: NDArray[np.int32], table: CdfTable, chunks: int = 1
) -> list[bytes]: ...
def decode_batch(
    streams: list[bytes], indexes: NDArray[np.int32], table: CdfTable, chunked: bool = False
) -> NDArray[np.int32]: ...
def scale_indexes(scales: NDArray[np.float32], table: NDArray[np.float32]) -> NDArray[np.int32]: ...
def encode_chunked(
    symbols: NDArray[np.int32], indexes: NDArray[np.int32], table: CdfTable, chunks: int
) -> bytes: ...
def decode_chunked(
    data: bytes, indexes: NDArray[np.int32], table: CdfTable
) -> NDArray[np.int32]: ...
def encode_mixture(
    symbols: NDArray[np.int32],
    weights: NDArray[np.float64],
    means: NDArray[np.float64],
    scales: NDArray[np.float64],
) -> bytes: ...
def decode_mixture(
    data: bytes,
    weights: NDArray[np.float64],
    means: NDArray[np.float64],
    scales: NDArray[np.float64],
) -> NDArray[np.int32]: ...
def encode_mixture_batch(
    symbols: NDArray[np.int32],
    weights: NDArray[np.float64],
    means: NDArray[np.float64],
    scales: NDArray[np.float64],
) -> list[bytes]: ...
def decode_mixture_batch(
    streams: list[bytes],
    weights: NDArray[np.float64],
    means: NDArray[np.float64],
    scales: NDArray[np.float64],
) -> NDArray[np.int32]: ...
def fixed_scale_indexes(
    scales: NDArray[np.int32], table: NDArray[np.float32], bound: float
) -> NDArray[np.int32]: ...
def fixed_softmax(logits: NDArray[np.int32]) -> NDArray[np.float64]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def _after_fork_child() -> None: ...
