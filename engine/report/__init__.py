"""What a job tells its user when it ends: the summary table (``summary``), and
``report.html`` (``page``, with the charts of a large job in ``charts``)."""
