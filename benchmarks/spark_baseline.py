"""(b) What a Spark user would write for the crawl job: one PySpark application over all
the files, default session settings. Usage: python -m benchmarks.spark_baseline DATA_DIR OUT_DIR"""

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

SCHEMA = "url STRING, language STRING, content_length BIGINT, text STRING"   # as jobs/crawl.py


def main(data_dir: str, out_dir: str) -> None:
    spark = SparkSession.builder.master("local[*]").appName("crawl-p90-baseline").getOrCreate()
    # Lines that are not JSON or do not fit the schema are dropped, as lmr rejects them.
    df = (spark.read.schema(SCHEMA + ", _corrupt_record STRING")
               .option("columnNameOfCorruptRecord", "_corrupt_record")
               .json(f"{data_dir}/*.jsonl").where(F.col("_corrupt_record").isNull()))
    language = F.lower(F.trim(F.col("language")))
    length = F.coalesce(F.col("content_length"), F.length("text").cast("bigint"))
    docs = (df.select("url", language.alias("language"), length.alias("content_length"))
              .where(F.col("url").isNotNull() & (F.col("language") != "")
                     & F.col("content_length").isNotNull() & (F.col("content_length") >= 0)))
    out = (docs.groupBy("language")
               .agg(F.percentile_approx("content_length", 0.9, 10_000).alias("p90_content_length"),
                    F.count(F.lit(1)).alias("documents"))
               .orderBy("language"))
    out.write.mode("overwrite").json(out_dir)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
