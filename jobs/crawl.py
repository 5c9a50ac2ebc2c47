"""LetsData's published example: web-crawl documents -> per-language p90 content length.

Input: JSONL crawl records (url, language, content_length, status, headers, text ...).
The mapper normalises each document and drops the ones that cannot be attributed
(no url or language); malformed JSON lines are rejected by the engine and counted.
The reducer computes the approximate 90th percentile of content length and the
document count per language.
"""

from pyspark.sql import functions as F

from engine import Mapper, Reducer

# Only the fields the job uses (records also carry status, fetched_at, headers): the
# engine checks that every record fits every declared column, and parsing a column
# costs time whether or not the job uses it.
SCHEMA = "url STRING, language STRING, content_length BIGINT, text STRING"


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


class P90ContentLengthSketch(Reducer):
    """The same figures with a combiner: each map task writes one KLL sketch of content
    lengths and one count per language (a few rows) instead of every document; the
    reducer merges the sketches. KLL's rank error is about 1.65% (k=200, 99% confidence),
    against percentile_approx's 0.01% above: the price of reading 8 rows per task."""

    output_format = "json"

    def combine(self, df, ctx):
        return (df.groupBy("language")
                  .agg(F.kll_sketch_agg_bigint("content_length").alias("lengths"),
                       F.count(F.lit(1)).alias("documents")))

    def reduce(self, df, ctx):
        merged = (df.groupBy("language")
                    .agg(F.kll_merge_agg_bigint("lengths").alias("lengths"),
                         F.sum("documents").alias("documents")))
        return (merged.select("language",
                              F.kll_sketch_get_quantile_bigint("lengths", F.lit(0.9)).alias("p90_content_length"),
                              "documents")
                      .orderBy("language"))
