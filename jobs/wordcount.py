"""Word count: text files -> word frequencies.

A word is a run of ``[a-z0-9']`` after lower-casing. The mapper already counts words
within its own file (a map-side combine), so the reducer sums small partial counts
instead of shuffling every word.
"""

from pyspark.sql import functions as F

from engine import Mapper, Reducer

WORD = r"[^a-z0-9']+"


class SplitWords(Mapper):
    input_format = "text"

    def map(self, df, ctx):
        words = F.explode(F.split(F.lower(F.col("value")), WORD)).alias("word")
        return df.select(words).where(F.col("word") != "").groupBy("word").count()


class SumCounts(Reducer):
    output_format = "csv"

    def reduce(self, df, ctx):
        return df.groupBy("word").agg(F.sum("count").alias("count")).orderBy(F.desc("count"), "word")


class SumCountsPerWord(Reducer):
    """SumCounts for ``"reducers": R`` > 1: each reduce task sums the words that hash to
    it. Its output is not one sorted list (each of the R files is per-word sums)."""

    output_format = "csv"
    partition_by = ("word",)

    def reduce(self, df, ctx):
        return df.groupBy("word").agg(F.sum("count").alias("count"))
