"""Fixtures for the pyodps conformance suite.

One `mc-emulator serve` process per test session, on a free 127.0.0.1 port, with a temporary data
directory whose tables are created beforehand through `mc-emulator create-table`. Every test uses
pyodps exactly as an application would, pointed at that process.
"""

import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

# pyodps reads these at import time; the suite must not depend on the caller's environment.
for _var in ("ODPS_ENDPOINT", "ODPS_TUNNEL_ENDPOINT", "ODPS_REGION_NAME"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = "127.0.0.1"

from odps import ODPS, options  # noqa: E402
from odps.models import Record, TableSchema  # noqa: E402
from odps.tunnel.io.writer import BaseRecordWriter  # noqa: E402

ACCESS_ID = "mc-emulator-id"
SECRET = "mc-emulator-secret"
PROJECT = "emulator"
ROLE_ARN = "acs:ram::1234567890:role/sink-role"

ALL_TYPES_DDL = """
CREATE TABLE IF NOT EXISTS all_types (
  c_bigint BIGINT, c_int INT, c_smallint SMALLINT, c_tinyint TINYINT,
  c_double DOUBLE, c_float FLOAT, c_boolean BOOLEAN,
  c_string STRING, c_binary BINARY, c_varchar VARCHAR(10),
  c_datetime DATETIME, c_date DATE, c_timestamp TIMESTAMP,
  c_decimal DECIMAL(10,2), c_json JSON
);
"""

# One table per test that commits data, so read-backs see exactly what that test wrote.
TABLES = {
    "all_types_plain": ALL_TYPES_DDL.replace("all_types", "all_types_plain"),
    "all_types_deflate": ALL_TYPES_DDL.replace("all_types", "all_types_deflate"),
    "blocks": "CREATE TABLE blocks (id BIGINT, s STRING);",
    "buffered": "CREATE TABLE buffered (id BIGINT, s STRING);",
    # The seed document's shape: backticks, a comment, a partition column.
    "events": """CREATE TABLE IF NOT EXISTS events (
        topic STRING COMMENT 'kafka topic', `partition` BIGINT, `offset` BIGINT,
        key STRING, value STRING
    ) PARTITIONED BY (pt STRING);""",
    "events_wt": """CREATE TABLE events_wt (topic STRING, `offset` BIGINT) PARTITIONED BY (pt STRING);""",
    "two_level": "CREATE TABLE two_level (s STRING) PARTITIONED BY (pt STRING, dt STRING);",
    "flat": "CREATE TABLE flat (s STRING, n BIGINT);",
    "flat_part": "CREATE TABLE flat_part (s STRING, n BIGINT) PARTITIONED BY (pt STRING);",
    "errors": "CREATE TABLE errors (id BIGINT, s STRING, b BINARY, j JSON, d DOUBLE);",
    "sts_target": "CREATE TABLE sts_target (s STRING);",
}


def emulator_bin():
    path = os.environ.get("MC_EMULATOR_BIN")
    if path:
        return path
    root = Path(__file__).resolve().parents[4]
    return str(root / "target" / "debug" / "mc-emulator")


def run_cli(*args, check=True):
    """Runs an `mc-emulator` subcommand and returns its stdout."""
    proc = subprocess.run(
        [emulator_bin(), *args], capture_output=True, text=True, timeout=120
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"mc-emulator {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
        )
    return proc


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    def __init__(self, data_dir, port):
        self.data_dir = data_dir
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.api = f"{self.endpoint}/api"
        self.sts = f"{self.endpoint}/sts/"

    def odps(self, access_id=ACCESS_ID, secret=SECRET, account=None):
        kwargs = dict(
            project=PROJECT,
            endpoint=self.api,
            tunnel_endpoint=self.endpoint,
            logview_host="http://unused",
        )
        if account is not None:
            return ODPS(account=account, **kwargs)
        return ODPS(access_id, secret, **kwargs)

    def show(self, table, partition=None):
        """Committed rows as `mc-emulator show --format jsonl` prints them."""
        args = ["show", "--data-dir", str(self.data_dir), "--project", PROJECT]
        if partition:
            args += ["--partition", partition]
        args += ["--format", "jsonl", "--table", table]
        out = run_cli(*args).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def start_emulator(*extra_args):
    """Creates every table of TABLES in a fresh data directory, then serves it."""
    data_dir = Path(tempfile.mkdtemp(prefix="mc-emulator-pytest-"))
    for ddl in TABLES.values():
        run_cli("create-table", "--data-dir", str(data_dir), "--project", PROJECT, ddl)
    port = free_port()
    log = open(data_dir / "serve.log", "w")
    proc = subprocess.Popen(
        [
            emulator_bin(),
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--sts-role-arn",
            ROLE_ARN,
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(
                "mc-emulator serve exited early:\n" + (data_dir / "serve.log").read_text()
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("mc-emulator serve did not start listening")
            time.sleep(0.05)

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)

    return Emulator(data_dir, port), stop


@pytest.fixture(scope="session")
def emulator():
    options.local_timezone = "UTC"
    emu, stop = start_emulator()
    yield emu
    stop()


@pytest.fixture(scope="module")
def short_lived_emulator():
    """Sessions expire at once, STS credentials after one second, 2 sessions per table."""
    emu, stop = start_emulator(
        "--session-ttl-secs", "0", "--sts-lifetime-secs", "1", "--quota-sessions", "2"
    )
    yield emu
    stop()


@pytest.fixture
def odps(emulator):
    return emulator.odps()


def encode_rows(schema, rows):
    """A complete upload body (records + footer) as pyodps's own writer produces it."""

    class Keep(io.BytesIO):
        def close(self):  # the writer closes its output; keep the bytes readable
            pass

    out = Keep()
    writer = BaseRecordWriter(schema, out)
    for values in rows:
        writer.write(Record(schema=schema, values=values))
    writer.close()
    return out.getvalue()


def data_schema(table):
    """The table's data columns only, as the record stream carries them."""
    cols = table.table_schema.simple_columns
    return TableSchema.from_lists([c.name for c in cols], [str(c.type) for c in cols])
