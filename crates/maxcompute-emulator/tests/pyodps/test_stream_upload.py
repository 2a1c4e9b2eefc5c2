"""pyodps stream uploads are visible at once, without a commit, with exactly the values written."""

from odps.tunnel import TableTunnel


def read_all(odps, table, partition=None):
    with odps.get_table(table).open_reader(partition=partition) as reader:
        return [list(r.values) for r in reader]


def test_stream_upload_is_visible_without_commit(emulator, odps):
    tunnel = TableTunnel(odps)
    session = tunnel.create_stream_upload_session("flat")
    writer = session.open_record_writer()
    writer.write(session.new_record(["a", 1]))
    writer.write(session.new_record([None, -7]))
    writer.close()
    assert read_all(odps, "flat") == [["a", 1], [None, -7]]

    # A second pack, compressed, appends.
    writer = session.open_record_writer(compress=True)
    writer.write(session.new_record(["é", 2 ** 62]))
    writer.close()
    assert read_all(odps, "flat") == [["a", 1], [None, -7], ["é", 2 ** 62]]
    assert [[r["s"], r["n"]] for r in emulator.show("flat")] == [["a", 1], [None, -7], ["é", 2 ** 62]]


def test_stream_upload_creates_partition(odps):
    tunnel = TableTunnel(odps)
    session = tunnel.create_stream_upload_session(
        "flat_part", partition_spec="pt=s1", create_partition=True
    )
    writer = session.open_record_writer()
    writer.write(session.new_record(["x", 10]))
    writer.close()
    assert read_all(odps, "flat_part", partition="pt=s1") == [["x", 10, "s1"]]
