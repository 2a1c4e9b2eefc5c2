"""pyodps batch uploads land in the emulator with exactly the values written."""

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pandas as pd
import pytest
from odps import errors
from odps.tunnel import CompressOption, TableTunnel

ROWS = [
    [
        9223372036854775807,
        -2147483648,
        32767,
        -128,
        2.25,
        1.5,
        True,
        "héllo, 世界",
        b"\x00\x01\xfe\xff",
        "abc",
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        date(2024, 2, 29),
        pd.Timestamp("2024-01-02 03:04:05.123456789", tz="UTC"),
        Decimal("12.34"),
        {"a": [1, 2, None], "b": "x"},
    ],
    [None] * 15,
    [
        -9223372036854775808,
        2147483647,
        -32768,
        127,
        -0.5,
        -3.25,
        False,
        "",
        b"",
        "",
        datetime(1970, 1, 1, 0, 0, 0, tzinfo=timezone.utc),
        date(1900, 1, 1),
        pd.Timestamp("1969-12-31 23:59:59.5", tz="UTC"),
        Decimal("-99999999.99"),
        [],
    ],
]


def normalize(value):
    """Read-back values in a form comparable with what was written."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def assert_rows_equal(read, written):
    assert len(read) == len(written)
    for got, want in zip(read, written):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            if isinstance(w, (dict, list)):
                assert normalize(g) == w
            elif isinstance(w, bytes) and isinstance(g, str):
                assert g.encode("utf-8") == w
            else:
                assert g == w, (g, w)


def read_all(odps, table, partition=None):
    with odps.get_table(table).open_reader(partition=partition) as reader:
        return [list(r.values) for r in reader]


@pytest.mark.parametrize(
    "table,compress",
    [("all_types_plain", False), ("all_types_deflate", True)],
)
def test_every_primitive_type_and_nulls_round_trip(emulator, odps, table, compress):
    tunnel = TableTunnel(odps)
    kwargs = {}
    if compress:
        kwargs["compress_option"] = CompressOption(
            CompressOption.CompressAlgorithm.ODPS_ZLIB
        )
    session = tunnel.create_upload_session(table, **kwargs)
    with session.open_record_writer(0) as writer:
        for values in ROWS:
            writer.write(session.new_record(values))
    session.commit([0])

    assert_rows_equal(read_all(odps, table), ROWS)

    shown = emulator.show(table)
    assert len(shown) == len(ROWS)
    assert shown[0]["c_bigint"] == 9223372036854775807
    assert shown[0]["c_string"] == "héllo, 世界"
    assert shown[0]["c_boolean"] is True
    assert all(v is None for v in shown[1].values())
    assert shown[2]["c_string"] == ""


def test_several_blocks_commit_together(emulator, odps):
    tunnel = TableTunnel(odps)
    session = tunnel.create_upload_session("blocks")
    expected = []
    for block in range(3):
        with session.open_record_writer(block) as writer:
            for i in range(block * 10, block * 10 + 10):
                writer.write(session.new_record([i, f"row {i}"]))
                expected.append([i, f"row {i}"])
    # Nothing is visible before the commit.
    assert read_all(odps, "blocks") == []
    session.commit([0, 1, 2])
    assert sorted(read_all(odps, "blocks")) == expected
    assert sorted([r["id"], r["s"]] for r in emulator.show("blocks")) == expected


def test_reuploading_a_block_replaces_it(odps):
    tunnel = TableTunnel(odps)
    session = tunnel.create_upload_session("errors")
    with session.open_record_writer(0) as writer:
        writer.write(session.new_record([1, "first", None, None, None]))
    with session.open_record_writer(0) as writer:
        writer.write(session.new_record([2, "second", None, None, None]))
    session.commit([0])
    rows = read_all(odps, "errors")
    assert [r[:2] for r in rows] == [[2, "second"]]


def test_buffered_writer_generates_blocks(odps):
    tunnel = TableTunnel(odps)
    session = tunnel.create_upload_session("buffered")
    with session.open_record_writer(buffer_size=1024) as writer:
        for i in range(500):
            writer.write(session.new_record([i, "x" * 20]))
    blocks = writer.get_blocks_written()
    assert len(blocks) > 1
    session.commit(blocks)
    assert sorted(r[0] for r in read_all(odps, "buffered")) == list(range(500))


def test_partitions_and_create_partition(emulator, odps):
    tunnel = TableTunnel(odps)
    with pytest.raises(errors.NoSuchPartition):
        tunnel.create_upload_session("events", partition_spec="pt=missing")

    session = tunnel.create_upload_session(
        "events", partition_spec="pt=created", create_partition=True
    )
    rows = [["orders", 0, 42, "k1", "hello"], ["orders", 3, 1234567890123, None, "vé"]]
    with session.open_record_writer(0) as writer:
        for values in rows:
            writer.write(session.new_record(values))
    session.commit([0])

    table = odps.get_table("events")
    assert table.exist_partition("pt=created")
    got = read_all(odps, "events", partition="pt=created")
    # pyodps appends the partition value to each row it reads.
    assert got == [r + ["created"] for r in rows]
    shown = emulator.show("events", partition="pt=created")
    assert [[r["topic"], r["partition"], r["offset"], r["key"], r["value"]] for r in shown] == rows


def test_write_table_with_sql_partition_creation(odps):
    rows = [["t", 1], ["u", 2]]
    odps.write_table("events_wt", rows, partition="pt=viasql", create_partition=True)
    assert read_all(odps, "events_wt", partition="pt=viasql") == [r + ["viasql"] for r in rows]
