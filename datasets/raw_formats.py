"""The layout of a converted data set's raw files: `raw_format_for(schema, path)`, what export reads rows with.

It picks the layout from the schema's `format` and the file's first line, through each data set's own
detection (datasets.criteo: train.txt, test.txt or the CSV with header; datasets.avazu: the CSV with header,
with or without `click`), and refuses a file whose columns do not match. Data flows one way: the formats
read their first lines with datasets.raw_input, and this dispatch imports the formats.
"""

from datasets import avazu, criteo
from datasets.raw_parsing import DelimitedFormat


def raw_format_for(schema: dict, path: str) -> DelimitedFormat:
    """The layout of raw file `path` for a data set converted to `schema`; ValueError when none fits."""
    schema_fields = [(field["name"], field["kind"]) for field in schema["fields"]]
    if schema["format"] in ("criteo", "criteo_csv"):
        raw_format = criteo.raw_input_format(path)
    elif schema["format"] == "avazu":
        raw_format = avazu.raw_input_format(path, hour_features=("hour_of_day", "categorical") in schema_fields)
    else:
        raise ValueError(f"no raw-row reader for data format {schema['format']!r}")
    if list(raw_format.fields) != schema_fields:
        raise ValueError(f"the model's fields {[name for name, _ in schema_fields]} are not those of a "
                         f"{raw_format.name} file")
    return raw_format
