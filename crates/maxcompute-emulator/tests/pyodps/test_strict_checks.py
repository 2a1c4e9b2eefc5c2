"""Each strict check of the emulator, reached through pyodps, gives pyodps the matching error.

Well-formed requests go through pyodps's public API. Malformed ones (corrupt bodies, bad block
ids, skewed dates, missing signatures) go through pyodps's own signed REST client, so that only the
property under test is wrong.
"""

import struct
import time
from email.utils import formatdate

import pytest
from odps import errors
from odps.accounts import CloudAccount
from odps.crc import Crc32c
from odps.tunnel import TableTunnel

from conftest import ACCESS_ID, PROJECT, SECRET, data_schema, encode_rows

END_RECORD = bytes.fromhex("80c0ff7f")
META_COUNT = bytes.fromhex("f0ffff7f")
META_CHECKSUM = bytes.fromhex("f8ffff7f")


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(n):
    return (n << 1) ^ (n >> 63)


def crc32c(data):
    c = Crc32c()
    c.update(bytearray(data))
    return c.getvalue()


def stream(records):
    """A stream of hand-built records: (field bytes, crc input) each; footer with true counts."""
    body = bytearray()
    crcs = Crc32c()
    for fields, crc_input in records:
        crc = crc32c(crc_input)
        body += fields + END_RECORD + varint(crc)
        crcs.update(bytearray(struct.pack("<I", crc)))
    body += META_COUNT + varint(zigzag(len(records))) + META_CHECKSUM + varint(crcs.getvalue())
    return bytes(body)


def expect_error(call, code, status=None):
    with pytest.raises(errors.ODPSError) as info:
        call()
    assert info.value.code == code, f"{info.value!r}"
    if status is not None:
        assert info.value.status_code == status, f"{info.value!r}"
    return info.value


def put_block(session, block_id, body):
    params = session.get_common_params(uploadid=session.id, blockid=str(block_id))
    headers = session.get_common_headers(content_length=len(body))
    headers["Content-Type"] = "application/octet-stream"
    return session._client.put(
        session._table.table_resource(), data=body, params=params, headers=headers
    )


def post_commit(session):
    params = session.get_common_params(uploadid=session.id)
    headers = session.get_common_headers(content_length=0)
    return session._client.post(
        session._table.table_resource(), "", params=params, headers=headers
    )


@pytest.fixture
def errors_session(odps):
    return TableTunnel(odps).create_upload_session("errors")


# --- authentication ---------------------------------------------------------------------------


class UnsignedAccount(CloudAccount):
    """Sends a Date but no Authorization header."""

    def sign_request(self, req, endpoint, region_name=None):
        req.headers["Date"] = formatdate(usegmt=True)


def test_missing_signature_is_unauthorized(emulator):
    o = emulator.odps(account=UnsignedAccount(ACCESS_ID, SECRET))
    with pytest.raises(errors.Unauthorized):
        o.get_table("flat").reload()


def test_wrong_secret_is_signature_not_match(emulator):
    o = emulator.odps(secret="not-the-secret")
    with pytest.raises(errors.SignatureNotMatch):
        o.get_table("flat").reload()
    with pytest.raises(errors.SignatureNotMatch):
        TableTunnel(o).create_upload_session("flat")


def test_unknown_access_id_is_unauthorized(emulator):
    o = emulator.odps(access_id="nobody")
    with pytest.raises(errors.Unauthorized):
        TableTunnel(o).create_upload_session("flat")


def test_date_skew_over_15_minutes_is_refused(odps):
    url = odps.get_table("flat").resource()
    old = formatdate(time.time() - 16 * 60, usegmt=True)
    with pytest.raises(errors.RequestTimeTooSkewed):
        odps.rest.get(url, headers={"Date": old})
    # Within the limit the same request succeeds.
    recent = formatdate(time.time() - 5 * 60, usegmt=True)
    assert odps.rest.get(url, headers={"Date": recent}).status_code == 200


# --- projects, tables, partitions -------------------------------------------------------------


def test_unknown_project(emulator):
    o = emulator.odps()
    o.project = "no_such_project"
    with pytest.raises(errors.NoSuchProject):
        TableTunnel(o, project="no_such_project").create_upload_session("flat")


def test_unknown_table(odps):
    with pytest.raises(errors.NoSuchTable):
        TableTunnel(odps).create_upload_session("no_such_table")
    with pytest.raises(errors.NoSuchObject):
        odps.get_table("no_such_table").reload()
    assert not odps.exist_table("no_such_table")


def test_unknown_partition(odps):
    with pytest.raises(errors.NoSuchPartition):
        TableTunnel(odps).create_upload_session("events", partition_spec="pt=nope")
    with pytest.raises(errors.NoSuchPartition):
        TableTunnel(odps).create_stream_upload_session("flat_part", partition_spec="pt=nope")
    assert not odps.get_table("events").exist_partition("pt=nope")


def test_partition_spec_must_match_partition_columns(odps):
    tunnel = TableTunnel(odps)
    # A level missing, a wrong column, a spec on a table without partitions, no spec at all.
    expect_error(
        lambda: tunnel.create_upload_session(
            "two_level", partition_spec="pt=a", create_partition=True
        ),
        "MissingPartitionSpec",
        400,
    )
    expect_error(
        lambda: tunnel.create_upload_session(
            "events", partition_spec="dt=a", create_partition=True
        ),
        "InvalidPartitionSpec",
        400,
    )
    expect_error(
        lambda: tunnel.create_upload_session("flat", partition_spec="pt=a"),
        "InvalidPartitionSpec",
        400,
    )
    expect_error(
        lambda: tunnel.create_upload_session("events"), "MissingPartitionSpec", 400
    )


# --- sessions and blocks ----------------------------------------------------------------------


def test_block_id_out_of_range(odps, errors_session):
    body = encode_rows(data_schema(odps.get_table("errors")), [[1, "a", None, None, None]])
    expect_error(lambda: put_block(errors_session, 20000, body), "InvalidBlockID", 400)
    expect_error(lambda: put_block(errors_session, -1, body), "InvalidBlockID", 400)
    assert put_block(errors_session, 19999, body).status_code == 200


def test_committed_session_refuses_writes_and_a_second_commit(odps, errors_session):
    body = encode_rows(data_schema(odps.get_table("errors")), [[1, "a", None, None, None]])
    put_block(errors_session, 0, body)
    errors_session.commit([0])
    expect_error(lambda: put_block(errors_session, 1, body), "StatusConflict", 409)
    expect_error(lambda: post_commit(errors_session), "StatusConflict", 409)


def test_expired_session_refuses_writes_and_commit(short_lived_emulator):
    o = short_lived_emulator.odps()
    session = TableTunnel(o).create_upload_session("buffered")
    body = encode_rows(data_schema(o.get_table("buffered")), [[1, "a"]])
    expect_error(lambda: put_block(session, 0, body), "StatusConflict", 409)
    expect_error(lambda: post_commit(session), "StatusConflict", 409)


def test_session_quota_answers_flow_exceeded(short_lived_emulator):
    o = short_lived_emulator.odps()
    tunnel = TableTunnel(o)
    url = f"{short_lived_emulator.endpoint}/projects/{PROJECT}/tables/blocks"

    def create():
        # pyodps retries 429 forever, so the third creation is sent once, without its retry loop.
        return tunnel.tunnel_rest.post(url, "", params={"uploads": "1"}, headers={"Content-Length": "0"})

    assert create().status_code in (200, 201)
    assert create().status_code in (200, 201)
    with pytest.raises(errors.FlowExceeded) as info:
        create()
    assert info.value.status_code == 429
    # Other tables have their own window.
    assert tunnel.create_upload_session("buffered").id


# --- record stream ----------------------------------------------------------------------------


def good_body(odps, rows=None):
    rows = rows or [[1, "a", b"b", {"k": 1}, 0.5], [2, None, None, None, None]]
    return encode_rows(data_schema(odps.get_table("errors")), rows)


def test_well_formed_hand_built_stream_is_accepted(errors_session):
    # Guards the hand-built streams below: with true CRCs and counts they are accepted, so each
    # rejection is caused by the one defect it introduces.
    body = stream([(bytes([0x08]) + varint(zigzag(5)), struct.pack("<i", 1) + struct.pack("<q", 5))])
    assert put_block(errors_session, 0, body).status_code == 200


def test_record_crc_mismatch(odps, errors_session):
    body = bytearray(good_body(odps))
    at = body.index(END_RECORD) + len(END_RECORD)
    body[at] ^= 0x01
    expect_error(lambda: put_block(errors_session, 0, bytes(body)), "MalformedDataStream", 400)


def test_stream_checksum_mismatch(odps, errors_session):
    body = bytearray(good_body(odps))
    at = body.index(META_CHECKSUM) + len(META_CHECKSUM)
    body[at] ^= 0x01
    expect_error(lambda: put_block(errors_session, 0, bytes(body)), "MalformedDataStream", 400)


def test_wrong_record_count(odps, errors_session):
    body = bytearray(good_body(odps))
    at = body.index(META_COUNT) + len(META_COUNT)
    assert body[at] == zigzag(2)
    body[at] = zigzag(3)
    expect_error(lambda: put_block(errors_session, 0, bytes(body)), "MalformedDataStream", 400)


def test_truncated_stream_and_trailing_bytes(odps, errors_session):
    body = good_body(odps)
    expect_error(lambda: put_block(errors_session, 0, body[:-3]), "MalformedDataStream", 400)
    expect_error(lambda: put_block(errors_session, 0, body + b"\x00"), "MalformedDataStream", 400)


def test_unknown_field_number(errors_session):
    # The table has 5 columns; field 9 does not exist. The CRC is right.
    body = stream([(varint(9 << 3) + varint(zigzag(5)), struct.pack("<i", 9) + struct.pack("<q", 5))])
    expect_error(lambda: put_block(errors_session, 0, body), "MalformedDataStream", 400)


def test_payload_not_matching_column_type(errors_session):
    # Field 1 is BIGINT (varint) but is sent length-delimited; the CRC is right.
    body = stream([(varint(1 << 3 | 2) + varint(1) + b"x", struct.pack("<i", 1) + b"x")])
    expect_error(lambda: put_block(errors_session, 0, body), "MalformedDataStream", 400)
    # Field 5 is DOUBLE (fixed 8 bytes) but is sent as a varint.
    body = stream([(varint(5 << 3) + varint(3), struct.pack("<i", 5) + struct.pack("<q", 3))])
    expect_error(lambda: put_block(errors_session, 0, body), "MalformedDataStream", 400)


def test_invalid_json_in_json_column(errors_session):
    text = b'{"unterminated": '
    body = stream([(varint(4 << 3 | 2) + varint(len(text)) + text, struct.pack("<i", 4) + text)])
    expect_error(lambda: put_block(errors_session, 0, body), "MalformedDataStream", 400)


@pytest.mark.parametrize("field,column", [(2, "STRING"), (3, "BINARY")])
def test_value_over_max_field_size(errors_session, field, column):
    big = b"x" * (8 * 1024 * 1024 + 1)
    body = stream([(varint(field << 3 | 2) + varint(len(big)) + big, struct.pack("<i", field) + big)])
    expect_error(lambda: put_block(errors_session, 0, body), "MalformedDataStream", 400)
    # Exactly MaxFieldSize is allowed.
    ok = big[:-1]
    body = stream([(varint(field << 3 | 2) + varint(len(ok)) + ok, struct.pack("<i", field) + ok)])
    assert put_block(errors_session, 0, body).status_code == 200, column


def test_stream_write_with_corrupt_body(emulator, odps):
    session = TableTunnel(odps).create_stream_upload_session("flat")
    before = len(emulator.show("flat"))
    body = bytearray(encode_rows(data_schema(odps.get_table("flat")), [["a", 1]]))
    body[body.index(END_RECORD) + len(END_RECORD)] ^= 0x01
    params = session.get_common_params(uploadid=session.id, slotid="0")
    headers = session.get_common_headers(content_length=len(body))
    headers["Content-Type"] = "application/octet-stream"
    headers["odps-tunnel-slot-num"] = "1"
    headers["odps-tunnel-routed-server"] = f"127.0.0.1:{emulator.port}"
    expect_error(
        lambda: session._client.put(
            session._table.table_resource() + "/streams",
            data=bytes(body),
            params=params,
            headers=headers,
        ),
        "MalformedDataStream",
        400,
    )
    assert len(emulator.show("flat")) == before, "a refused pack must not be applied"
