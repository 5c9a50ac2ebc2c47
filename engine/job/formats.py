"""The formats a job reads and writes, and the reader options a manifest may set for each:
the manifest's vocabulary, importable without pyspark (the Spark readers that honour it
are engine/spark/readers.py)."""

from __future__ import annotations

INPUT_FORMATS = ("jsonl", "json", "csv", "parquet", "text", "binary")
OUTPUT_FORMATS = ("parquet", "json", "csv")

# Reader options a manifest may set, per format. The engine owns the rest: it reads text
# formats PERMISSIVE into _corrupt_record (to count and divert rejects), picks JSON's
# multiLine from the format (json: whole documents, jsonl: a record a line), and names the
# files itself. A CSV may set multiLine, for quoted values holding newlines (such files
# are then read whole, engine/store/splits.py).
_TEXT_OPTIONS = {"encoding", "lineSep", "dateFormat", "timestampFormat", "timestampNTZFormat",
                 "locale", "samplingRatio"}
READER_OPTIONS = {
    "jsonl": _TEXT_OPTIONS | {"allowComments", "allowUnquotedFieldNames", "allowSingleQuotes",
                              "allowNumericLeadingZeros", "allowBackslashEscapingAnyCharacter",
                              "allowUnquotedControlChars", "allowNonNumericNumbers", "primitivesAsString",
                              "prefersDecimal", "dropFieldIfAllNull", "timeZone"},
    "csv": _TEXT_OPTIONS | {"sep", "delimiter", "header", "quote", "escape", "comment", "nullValue",
                            "nanValue", "positiveInf", "negativeInf", "emptyValue", "ignoreLeadingWhiteSpace",
                            "ignoreTrailingWhiteSpace", "maxColumns", "maxCharsPerColumn",
                            "unescapedQuoteHandling", "charToEscapeQuoteEscaping", "enforceSchema",
                            "preferDate", "timeZone", "multiLine"},
    "text": {"wholetext", "lineSep", "encoding"},
    "parquet": {"mergeSchema", "datetimeRebaseMode", "int96RebaseMode"},
    "binary": set(),
}
READER_OPTIONS["json"] = READER_OPTIONS["jsonl"]
ENGINE_READER_OPTIONS = {"mode", "columnNameOfCorruptRecord", "multiLine", "path", "paths",
                         "pathGlobFilter", "recursiveFileLookup", "basePath", "modifiedBefore",
                         "modifiedAfter", "ignoreCorruptFiles", "ignoreMissingFiles"}
