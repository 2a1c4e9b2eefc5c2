"""pyodps 0.13.2 as the referee of the Rust record codec (odps/tunnel/io/writer.py and reader.py).

Reads one JSON request on stdin and writes one JSON answer on stdout:

  encode: {"columns": [[name, type], ...], "rows": [[value, ...], ...]}
          -> {"hex": "<record stream>"}
  decode: {"columns": [[name, type], ...], "hex": "<record stream>"}
          -> {"rows": [[value, ...], ...]}

Switches: --impl cython|python picks pyodps's default Cython writer/reader or the pure-Python
ones; --deflate compresses (encode) or decompresses (decode) the stream as an upload body with
Content-Encoding: deflate.

Values travel in a typed JSON form so nothing is lost on the way:
  integer types, DATETIME (ms), DATE (days)  -> JSON integers
  BOOLEAN                                    -> true/false
  DOUBLE, FLOAT                              -> hex of the little-endian IEEE-754 bytes
  STRING, VARCHAR, CHAR                      -> JSON strings
  BINARY                                     -> hex
  TIMESTAMP, TIMESTAMP_NTZ                   -> [seconds, nanos]
  DECIMAL                                    -> plain decimal text
  JSON                                       -> the JSON text (parsed before pyodps sees it,
                                                because pyodps json.dumps()es whatever it gets)
  ARRAY -> list; MAP -> list of [key, value]; STRUCT -> list; NULL -> null
"""

import argparse
import datetime
import decimal
import importlib
import io
import json
import struct
import sys

EPOCH = datetime.datetime(1970, 1, 1)
EPOCH_DATE = datetime.date(1970, 1, 1)


def load_odps(impl):
    from odps import options

    # Naive datetimes are read and written in this zone; UTC makes DATETIME an epoch offset.
    options.local_timezone = "UTC"
    options.struct_as_dict = False
    # The "antique" check guards against local-zone history before 1928; in UTC there is none.
    options.allow_antique_date = True
    options.tunnel.require_stream_footer = True
    # Without it pyodps's pure-Python record casts BINARY values to str, failing on non-UTF-8.
    options.tunnel.string_as_binary = True
    if impl == "python":
        options.force_py = True
        import odps.crc
        import odps.tunnel.checksum
        import odps.tunnel.io.reader
        import odps.tunnel.io.writer

        for module in (
            odps.crc,
            odps.tunnel.checksum,
            odps.tunnel.io.writer,
            odps.tunnel.io.reader,
        ):
            importlib.reload(module)
    import odps.tunnel.io.reader as reader
    import odps.tunnel.io.writer as writer

    return reader, writer


def to_py(value, t, pd):
    """The Python value pyodps expects for a typed-JSON value of type t."""
    from odps import types as ot

    if value is None:
        return None
    if isinstance(t, (ot.Bigint, ot.Int, ot.Smallint, ot.Tinyint, ot.Boolean)):
        return value
    if isinstance(t, ot.Double):
        return struct.unpack("<d", bytes.fromhex(value))[0]
    if isinstance(t, ot.Float):
        return struct.unpack("<f", bytes.fromhex(value))[0]
    if isinstance(t, (ot.String, ot.Varchar, ot.Char)):
        return value
    if isinstance(t, ot.Binary):
        return bytes.fromhex(value)
    if isinstance(t, ot.Datetime):
        return EPOCH + datetime.timedelta(milliseconds=value)
    if isinstance(t, ot.Date):
        return EPOCH_DATE + datetime.timedelta(days=value)
    if isinstance(t, (ot.Timestamp, ot.TimestampNTZ)):
        seconds, nanos = value
        return pd.Timestamp(seconds * 1_000_000_000 + nanos, unit="ns")
    if isinstance(t, ot.Decimal):
        return decimal.Decimal(value)
    if isinstance(t, ot.Json):
        return json.loads(value)
    if isinstance(t, ot.Array):
        return [to_py(v, t.value_type, pd) for v in value]
    if isinstance(t, ot.Map):
        return {to_py(k, t.key_type, pd): to_py(v, t.value_type, pd) for k, v in value}
    if isinstance(t, ot.Struct):
        return tuple(
            to_py(v, ft, pd) for v, ft in zip(value, t.field_types.values())
        )
    raise TypeError(f"unsupported type {t}")


def from_py(value, t):
    """The typed-JSON form of a value pyodps's reader returned for type t."""
    from odps import types as ot

    if value is None:
        return None
    if isinstance(t, (ot.Bigint, ot.Int, ot.Smallint, ot.Tinyint, ot.Boolean)):
        return value
    if isinstance(t, ot.Double):
        return struct.pack("<d", value).hex()
    if isinstance(t, ot.Float):
        return struct.pack("<f", value).hex()
    if isinstance(t, (ot.String, ot.Varchar, ot.Char)):
        # string_as_binary hands text back as bytes; strict decoding keeps bad UTF-8 visible.
        return value if isinstance(value, str) else bytes(value).decode("utf-8")
    if isinstance(t, ot.Binary):
        return bytes(value).hex()
    if isinstance(t, ot.Datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return (value - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(t, ot.Date):
        return (value - EPOCH_DATE).days
    if isinstance(t, (ot.Timestamp, ot.TimestampNTZ)):
        # .value is nanoseconds since the epoch (UTC for aware timestamps).
        return list(divmod(value.value, 1_000_000_000))
    if isinstance(t, ot.Decimal):
        return format(decimal.Decimal(value), "f")
    if isinstance(t, ot.Json):
        return json.dumps(value)
    if isinstance(t, ot.Array):
        return [from_py(v, t.value_type) for v in value]
    if isinstance(t, ot.Map):
        return [[from_py(k, t.key_type), from_py(v, t.value_type)] for k, v in value.items()]
    if isinstance(t, ot.Struct):
        if isinstance(value, dict):
            value = [value[name] for name in t.field_types]
        return [from_py(v, ft) for v, ft in zip(value, t.field_types.values())]
    raise TypeError(f"unsupported type {t}")


def table_schema(columns):
    from odps.models import TableSchema

    return TableSchema.from_lists([c[0] for c in columns], [c[1] for c in columns])


def encode(request, impl, deflate):
    import pandas as pd
    from odps.models import Record
    from odps.tunnel import CompressOption

    reader, writer = load_odps(impl)
    schema = table_schema(request["columns"])
    col_types = [c.type for c in schema.simple_columns]

    def records():
        for row in request["rows"]:
            values = [to_py(v, t, pd) for v, t in zip(row, col_types)]
            yield Record(schema=schema, values=values)

    if deflate:
        blocks = []

        class Response:
            headers = {}

        def callback(block_id, body):
            blocks.append(bytes(body))
            return Response()

        option = CompressOption(CompressOption.CompressAlgorithm.ODPS_ZLIB)
        w = writer.BufferedRecordWriter(schema, callback, compress_option=option)
        for record in records():
            w.write(record)
        w.close()
        if len(blocks) != 1:
            raise RuntimeError(f"expected one block, pyodps wrote {len(blocks)}")
        return {"hex": blocks[0].hex(), "writer": base_module(w)}

    out = io.BytesIO()
    w = writer.BaseRecordWriter(schema, out)
    for record in records():
        w.write(record)
    w.close()
    return {"hex": out.getvalue().hex(), "writer": base_module(w)}


def base_module(writer):
    """The module of the record writer implementation: writer_c (Cython) or writer."""
    return next(
        c.__module__ for c in type(writer).__mro__ if c.__name__ == "BaseRecordWriter"
    )


def decode(request, impl, deflate):
    from odps.tunnel.io.stream import DeflateInputStream

    reader, _ = load_odps(impl)
    schema = table_schema(request["columns"])
    col_types = [c.type for c in schema.simple_columns]
    data = bytes.fromhex(request["hex"])

    def stream_creator(cursor, row_number=None, raw_size=None):
        if cursor != 0:
            return None
        body = io.BytesIO(data)
        return DeflateInputStream(body) if deflate else body

    r = reader.TunnelRecordReader(schema, stream_creator, append_partitions=False)
    rows = []
    while True:
        record = r.read()
        if record is None:
            break
        rows.append([from_py(v, t) for v, t in zip(record.values, col_types)])
    # TunnelRecordReader's base class is the Cython or the pure-Python implementation.
    return {"rows": rows, "reader": type(r).__mro__[1].__module__}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["encode", "decode"])
    parser.add_argument("--impl", choices=["cython", "python"], default="cython")
    parser.add_argument("--deflate", action="store_true")
    args = parser.parse_args()
    request = json.load(sys.stdin)
    handler = encode if args.command == "encode" else decode
    json.dump(handler(request, args.impl, args.deflate), sys.stdout)


if __name__ == "__main__":
    main()
