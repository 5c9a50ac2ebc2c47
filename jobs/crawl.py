"""LetsData's published example: web-crawl documents -> per-language p90 content length.

Input: JSONL crawl records (url, language, content_length, status, headers, text ...).
The mapper normalises each document and drops the ones that cannot be attributed
(no url or language); malformed JSON lines are rejected by the engine and counted.
The reducer computes the approximate 90th percentile of content length and the
document count per language.
"""

from pyspark.sql import functions as F

from engine import Mapper, Reducer

SCHEMA = ("url STRING, language STRING, content_length BIGINT, status INT, "
          "fetched_at STRING, headers MAP<STRING, STRING>, text STRING")


class ExtractDocuments(Mapper):
    input_format = "jsonl"
    schema = SCHEMA

    def map(self, df, ctx):
        language = F.lower(F.trim(F.col("language")))
        # Some crawlers omit content_length; the text's length stands in for it.
        length = F.coalesce(F.col("content_length"), F.length("text").cast("bigint"))
        return (df.select(F.col("url"), language.alias("language"), length.alias("content_length"))
                  .where(F.col("url").isNotNull() & (F.col("language") != "")
                         & F.col("content_length").isNotNull() & (F.col("content_length") >= 0)))


class P90ContentLengthByLanguage(Reducer):
    output_format = "json"
    #: percentile_approx's accuracy: relative rank error is 1/ACCURACY.
    ACCURACY = 10_000

    def reduce(self, df, ctx):
        return (df.groupBy("language")
                  .agg(F.percentile_approx("content_length", 0.9, self.ACCURACY).alias("p90_content_length"),
                       F.count(F.lit(1)).alias("documents"))
                  .orderBy("language"))
