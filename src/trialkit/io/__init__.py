"""Reading and writing SDTM/ADaM datasets: SAS XPT v5, CDISC Dataset-JSON v1.1, Parquet and CSV.

``read_dataset(path) -> Dataset(df, meta)`` and ``write_dataset(df, path, meta)`` choose the format by the
file extension (``.xpt``, ``.json``, ``.parquet``, ``.csv``); ``read_folder(dir)`` finds the datasets of a
folder (``dm.xpt``, ``ADSL.parquet``, ...) by name, case-insensitively. Writes are atomic and never touch
the input frame. Problems a user can cause raise :class:`trialkit.errors.TrialkitError` naming the file.
"""

from trialkit.io.dataset_json import read_dataset_json, write_dataset_json
from trialkit.io.files import (
    FORMATS,
    read_csv,
    read_dataset,
    read_folder,
    read_parquet,
    write_csv,
    write_dataset,
    write_parquet,
)
from trialkit.io.meta import Dataset, DatasetMeta, VariableMeta, infer_meta
from trialkit.io.xpt import check_xpt_limits, read_xpt, write_xpt

__all__ = [
    "FORMATS",
    "Dataset",
    "DatasetMeta",
    "VariableMeta",
    "check_xpt_limits",
    "infer_meta",
    "read_csv",
    "read_dataset",
    "read_dataset_json",
    "read_folder",
    "read_parquet",
    "read_xpt",
    "write_csv",
    "write_dataset",
    "write_dataset_json",
    "write_parquet",
    "write_xpt",
]
