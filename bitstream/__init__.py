"""aec entropy coding and the .aec container (numpy and constriction only)."""

from .container import (
    COMPRESSED_SECTIONS,
    DEFAULT_MAX_PIXELS,
    FORMAT_VERSION,
    MAGIC,
    PIXEL_GRID,
    Header,
    Section,
    pack,
    padded_size,
    parse,
    read_header,
    lowest_version,
    sniff,
)
from .entropy import (CODER_VERSION, DEFAULT_BOUND, CategoricalTables, SymbolDecoder, SymbolEncoder, check_coder_version,
                      symbol_checksum)
from .errors import AECError, FormatError, UnsupportedVersionError
from .tables import pmf_to_counts, scale_table

__all__ = [
    "AECError",
    "FormatError",
    "UnsupportedVersionError",
    "MAGIC",
    "FORMAT_VERSION",
    "DEFAULT_MAX_PIXELS",
    "PIXEL_GRID",
    "COMPRESSED_SECTIONS",
    "lowest_version",
    "Header",
    "Section",
    "pack",
    "padded_size",
    "parse",
    "read_header",
    "sniff",
    "CODER_VERSION",
    "DEFAULT_BOUND",
    "SymbolEncoder",
    "SymbolDecoder",
    "CategoricalTables",
    "symbol_checksum",
    "check_coder_version",
    "scale_table",
    "pmf_to_counts",
]
