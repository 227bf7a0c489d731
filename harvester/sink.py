"""NDJSON output files: Hive-style partitions, rotation, durability and cutting back on resume.

Layout under the output folder::

    surveys/completed_date=YYYY-MM-DD/part-00000.ndjson
    errors/conversation_date=YYYY-MM-DD/part-00000.ndjson

Surveys without a completion date go to ``completed_date=__HIVE_DEFAULT_PARTITION__``, the
name Spark and Hive give a null partition value.

With gzip compression the parts are ``part-NNNNN.ndjson.gz``, and every sync ends a gzip
member. Concatenated members form one valid gzip stream (RFC 1952, section 2.2), so a part cut
back to a length recorded at a sync still decompresses, to exactly the lines written before it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

from harvester.checkpoint import fsync_directory
from harvester.manifest import MANIFEST_NAME

logger = logging.getLogger(__name__)

TABLES = ("surveys", "errors")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: Open part files kept at once; a long range can touch hundreds of partitions.
MAX_OPEN_FILES = 32
#: Values of ``--compress``, and the suffix each adds to the part files' names.
COMPRESSION_SUFFIXES = {"none": "", "gzip": ".gz"}
#: zlib's default level (what ``Z_DEFAULT_COMPRESSION`` selects), a compromise of speed and size.
GZIP_LEVEL = 6
#: ``wbits`` that make zlib write the gzip header and trailer around the deflate data.
_GZIP_WBITS = 16 + zlib.MAX_WBITS

_PART_NAME = re.compile(r"^part-(\d{5,})\.ndjson(\.gz)?$")


def partition_dir(table: str, key: str, value: str | None) -> str:
    """Return a partition folder relative to the output folder, such as ``surveys/completed_date=2025-03-04``."""
    return f"{table}/{key}={value or NULL_PARTITION}"


def directory_mode(file_mode: int) -> int:
    """Return the folder mode matching ``file_mode``: execute wherever read is allowed."""
    return file_mode | ((file_mode & 0o444) >> 2)


class AppendFile:
    """An append-only file that tracks its length and opens on demand."""

    def __init__(self, path: Path, length: int, mode: int) -> None:
        self.path = path
        self.length = length
        self._mode = mode
        self._stream: BinaryIO | None = None
        self.dirty = False

    def write(self, data: bytes) -> None:
        """Append ``data``; durable only after :meth:`sync`."""
        if self._stream is None:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, self._mode)
            self._stream = os.fdopen(descriptor, "ab")
        self._stream.write(data)
        self.length += len(data)
        self.dirty = True

    def sync(self) -> None:
        """Flush and fsync what was written."""
        if self._stream is not None and self.dirty:
            self._stream.flush()
            os.fsync(self._stream.fileno())
        self.dirty = False

    def close(self) -> None:
        """Sync and close the file; a later write opens it again."""
        if self._stream is not None:
            self.sync()
            self._stream.close()
            self._stream = None


class GzipAppendFile(AppendFile):
    """An append-only gzip file whose gzip member ends at every :meth:`sync`.

    ``length`` counts the compressed bytes handed to the file. Between syncs the compressor
    holds back some output, so ``length`` lags behind the data written until the next sync.
    """

    def __init__(self, path: Path, length: int, mode: int) -> None:
        super().__init__(path, length, mode)
        self._compressor: zlib._Compress | None = None

    def write(self, data: bytes) -> None:
        """Compress and append ``data`` to the current member, starting one when needed."""
        if self._compressor is None:
            self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        compressed = self._compressor.compress(data)
        if compressed:
            super().write(compressed)
        self.dirty = True

    def sync(self) -> None:
        """End the current member (the deflate tail and the gzip trailer), then flush and fsync."""
        if self._compressor is not None:
            tail = self._compressor.flush(zlib.Z_FINISH)
            self._compressor = None
            super().write(tail)
        super().sync()


class PartitionedSink:
    """Append lines to partitioned part files, rotating at ``max_file_bytes``."""

    def __init__(
        self,
        root: Path,
        *,
        lengths: dict[str, int],
        max_file_bytes: int,
        file_mode: int,
        compress: str = "none",
    ) -> None:
        self._root = root
        self._max_file_bytes = max_file_bytes
        self._compress = compress
        self._suffix = COMPRESSION_SUFFIXES[compress]
        self._file_mode = file_mode
        self._dir_mode = directory_mode(file_mode)
        self.lengths = dict(lengths)
        self._current: dict[str, tuple[int, int]] = {}  # partition folder -> (part number, length)
        for relative, length in lengths.items():
            folder, name = relative.rsplit("/", 1)
            match = _PART_NAME.match(name)
            if match is None or (match.group(2) or "") != self._suffix:
                continue
            number = int(match.group(1))
            if folder not in self._current or number > self._current[folder][0]:
                self._current[folder] = (number, length)
        self._open: OrderedDict[str, AppendFile] = OrderedDict()
        self._new_dirs: set[Path] = set()

    def write(self, folder: str, line: bytes) -> str:
        """Append one line to the current part of ``folder`` and return the file's relative path.

        A part rotates when the line would take it past ``max_file_bytes``. With gzip, the size
        compared is the compressed bytes so far plus the uncompressed line. The output zlib still
        holds back is not counted, so a part can end over the limit by that much (3.7 KB over
        a 6,000-byte limit in a test with simulated surveys).
        """
        number, length = self._current.get(folder, (0, -1))
        if length < 0:
            self._make_dirs(self._root / folder)
            length = 0
        elif length > 0 and length + len(line) > self._max_file_bytes:
            number += 1
            length = 0
        relative = f"{folder}/part-{number:05d}.ndjson{self._suffix}"
        handle = self._handle(relative)
        handle.write(line)
        self._current[folder] = (number, handle.length)
        self.lengths[relative] = handle.length
        return relative

    def sync(self) -> dict[str, int]:
        """Make every write durable and return the length of every file."""
        for relative, handle in self._open.items():
            handle.sync()
            self.lengths[relative] = handle.length
        for folder in sorted(self._new_dirs, key=lambda path: len(path.parts), reverse=True):
            fsync_directory(folder)
        self._new_dirs.clear()
        return dict(self.lengths)

    def close(self) -> None:
        """Sync and close every open file."""
        for handle in self._open.values():
            handle.close()
        self._open.clear()

    def _handle(self, relative: str) -> AppendFile:
        handle = self._open.get(relative)
        if handle is not None:
            self._open.move_to_end(relative)
            return handle
        if len(self._open) >= MAX_OPEN_FILES:
            closed, oldest = self._open.popitem(last=False)
            oldest.close()
            self.lengths[closed] = oldest.length
        path = self._root / relative
        if not path.exists():
            self._new_dirs.add(path.parent)
        kind = GzipAppendFile if self._compress == "gzip" else AppendFile
        handle = kind(path, self.lengths.get(relative, 0), self._file_mode)
        self._open[relative] = handle
        return handle

    def _make_dirs(self, folder: Path) -> None:
        missing = []
        current = folder
        while not current.exists():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            path.mkdir(mode=self._dir_mode, exist_ok=True)
            self._new_dirs.add(path.parent)
            self._new_dirs.add(path)


def restore_files(root: Path, lengths: dict[str, int]) -> None:
    """Cut every output file back to its checkpointed length and delete files created after it.

    Checkpointed lengths of gzip parts fall on member ends, so a cut part is a valid gzip file.
    Nothing is changed when a checkpointed file is missing or shorter than recorded.

    :raises ValueError: the files no longer match the checkpoint
    """
    present = check_restorable(root, lengths)
    for relative, path in present.items():
        recorded = lengths.get(relative)
        if recorded is None:
            logger.info("removing %s, written after the last checkpoint", relative)
            path.unlink()
        elif path.stat().st_size > recorded:
            logger.info("cutting %s back to %d bytes", relative, recorded)
            os.truncate(path, recorded)


def check_restorable(root: Path, lengths: dict[str, int]) -> dict[str, Path]:
    """Return the output files by relative path, after checking each checkpointed one is intact.

    :raises ValueError: a checkpointed file is missing or shorter than recorded
    """
    present: dict[str, Path] = {}
    for table in TABLES:
        table_dir = root / table
        if table_dir.is_dir():
            for path in sorted(table_dir.rglob("*")):
                if path.is_file():
                    present[path.relative_to(root).as_posix()] = path
    for relative, length in sorted(lengths.items()):
        found = present.get(relative)
        if found is None and length > 0:
            msg = f"{relative} is missing"
            raise ValueError(msg)
        if found is not None and found.stat().st_size < length:
            msg = f"{relative} is shorter than the checkpoint records"
            raise ValueError(msg)
    return present


def remove_outputs(root: Path) -> None:
    """Delete the output tables and the manifest, for a run that starts over."""
    for table in TABLES:
        shutil.rmtree(root / table, ignore_errors=True)
    (root / MANIFEST_NAME).unlink(missing_ok=True)
