"""Reports made from stored results: BD tables, RD plots, family summaries, published leaderboards, validation and merging of CSV exports."""
