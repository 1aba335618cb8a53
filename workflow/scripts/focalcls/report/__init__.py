"""The page: runs read, intervals, the headline in words, tables and figures."""
