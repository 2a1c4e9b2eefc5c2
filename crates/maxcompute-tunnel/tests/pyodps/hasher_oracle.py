"""pyodps 0.13.2 as the referee of the Rust upsert bucket hasher.

Reads one JSON request on stdin and writes one JSON answer on stdout:

  {"hasher": "default" | "legacy",
   "values": [[type, value], ...],
   "tables": [{"columns": [[name, type], ...], "keys": [name, ...], "rows": [[value, ...], ...]}]}
  ->
  {"values": [{"python": int|null, "cython": int|null,
               "python_error": str|null, "cython_error": str|null}, ...],
   "tables": [[{... the same four fields ...} for each row], ...],
   "modules": {"python": ..., "cython": ...}}

"values" asks each implementation's `hash_value(hasher, type, value)` for one column value;
"tables" asks each implementation's `RecordHasher(schema, hasher, keys).hash_record(record)` for
whole rows, which is what pyodps's upsert writer routes by. Both the pure-Python hasher
(odps.tunnel.hasher) and the Cython one (odps.tunnel.hasher_c) answer every question; an
exception is reported as "<ExceptionType>: <message>" instead of a hash.

The pure-Python `hash_value` returns the unwrapped Python sum for DECIMAL with precision > 18;
it is wrapped to a signed 32-bit integer here, as pyodps's RecordHasher wraps its sums.

Values use the typed JSON form of oracle.py (integers, DATETIME ms, DATE days, hex for
DOUBLE/FLOAT/BINARY bytes, [seconds, nanos] for TIMESTAMP, decimal text), plus
INTERVAL_DAY_TIME as [seconds, nanos]. Run with TZ=UTC: naive datetimes are read in the
local zone, which is also set to UTC here.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oracle import to_py  # noqa: E402  (the codec oracle's typed-JSON conversions)


def configure():
    from odps import options

    options.local_timezone = "UTC"
    # pyodps refuses DATETIME values before 1928 unless told the zone has no antique history.
    options.allow_antique_date = True
    # Without it pyodps's records turn BINARY values into str, failing on bytes that are not
    # UTF-8.
    options.tunnel.string_as_binary = True


def wrap_i32(value):
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value >= 0x80000000 else value


def py_value(value, data_type, pd):
    from odps import types as ot

    if value is not None and isinstance(data_type, ot.IntervalDayTime):
        seconds, nanos = value
        return pd.Timedelta(seconds * 1_000_000_000 + nanos, unit="ns")
    return to_py(value, data_type, pd)


def attempt(fn):
    try:
        return wrap_i32(fn()), None
    except Exception as e:  # the referee reports every failure, it does not judge it
        return None, f"{type(e).__name__}: {e}"


def answer(results):
    (py, py_err), (cy, cy_err) = results
    return {"python": py, "cython": cy, "python_error": py_err, "cython_error": cy_err}


def hash_values(hasher, values, impls, pd):
    from odps import types as ot

    out = []
    for type_name, value in values:
        data_type = ot.validate_data_type(type_name)
        v = py_value(value, data_type, pd)
        out.append(
            answer([attempt(lambda m=m: m.hash_value(hasher, data_type, v)) for m in impls])
        )
    return out


def hash_table(hasher, table, impls, pd):
    from odps.models import Record, TableSchema

    columns = table["columns"]
    schema = TableSchema.from_lists([c[0] for c in columns], [c[1] for c in columns])
    types = [c.type for c in schema.simple_columns]
    rec_hashers = []
    for m in impls:
        try:
            rec_hashers.append((m.RecordHasher(schema, hasher, table["keys"]), None))
        except Exception as e:
            rec_hashers.append((None, f"{type(e).__name__}: {e}"))
    out = []
    for row in table["rows"]:
        record = Record(schema=schema, values=[py_value(v, t, pd) for v, t in zip(row, types)])
        results = []
        for rec_hasher, error in rec_hashers:
            if rec_hasher is None:
                results.append((None, error))
            else:
                results.append(attempt(lambda h=rec_hasher: h.hash_record(record)))
        out.append(answer(results))
    return out


def main():
    configure()
    import pandas as pd
    from odps.tunnel import hasher as py_hasher
    from odps.tunnel import hasher_c as cy_hasher

    request = json.load(sys.stdin)
    hasher = request["hasher"]
    impls = [py_hasher, cy_hasher]
    json.dump(
        {
            "values": hash_values(hasher, request.get("values", []), impls, pd),
            "tables": [hash_table(hasher, t, impls, pd) for t in request.get("tables", [])],
            "modules": {"python": py_hasher.__name__, "cython": cy_hasher.__file__},
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
