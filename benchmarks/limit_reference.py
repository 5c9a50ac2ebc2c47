"""(c) The same transform in DuckDB: the practical limit of this hardware.
Usage: python -m benchmarks.limit_reference DATA_DIR OUT_JSON"""

import json
import sys

import duckdb


def main(data_dir: str, out_path: str) -> None:
    rows = duckdb.sql(f"""
        WITH docs AS (
          SELECT url, lower(trim(language, ' ')) AS language,
                 coalesce(TRY_CAST(content_length AS BIGINT), length(text)) AS content_length
          FROM read_json('{data_dir}/*.jsonl', format='newline_delimited', ignore_errors=true,
                         columns={{url: 'VARCHAR', language: 'VARCHAR', content_length: 'JSON',
                                   text: 'VARCHAR'}})
          -- a content_length that is not an integer does not fit the schema: dropped, as lmr rejects it
          WHERE content_length IS NULL OR json_type(content_length) IN ('BIGINT', 'UBIGINT'))
        SELECT language, quantile_disc(content_length, 0.9) AS p90_content_length, count(*) AS documents
        FROM docs
        WHERE url IS NOT NULL AND language <> '' AND content_length IS NOT NULL AND content_length >= 0
        GROUP BY language ORDER BY language""").fetchall()
    with open(out_path, "w") as f:
        for language, p90, documents in rows:
            f.write(json.dumps({"language": language, "p90_content_length": p90, "documents": documents}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
