#!/usr/bin/env python3
"""Decodes Avro container files with the Apache Avro Python library (Debian: python3-avro), an
implementation independent of the sink's encoder. Used by the file_roll unit tests.

Prints, per file, one line `META <codec> <record name> <field:type,...>`, then one line per
record: `<body as hex>\t<headers as name=value pairs, hex encoded, sorted, comma separated>`.
Exits non-zero (with a traceback) when a file is not a valid container."""
import json
import sys

from avro.datafile import DataFileReader
from avro.io import DatumReader


def type_name(t):
    if isinstance(t, dict):
        return t["type"] + "/" + str(t.get("values", ""))
    return t


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        reader = DataFileReader(f, DatumReader())
        codec = reader.get_meta("avro.codec").decode()
        schema = json.loads(reader.get_meta("avro.schema").decode())
        fields = ",".join(fl["name"] + ":" + type_name(fl["type"]) for fl in schema["fields"])
        print("META", codec, schema["name"], fields)
        for rec in reader:
            headers = ",".join(
                sorted(k.encode().hex() + "=" + v.encode().hex() for k, v in rec["headers"].items()))
            print(rec["body"].hex() + "\t" + headers)
        reader.close()
