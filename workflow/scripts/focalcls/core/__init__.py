"""What every stage shares: the user's error, atomic writes, script entry points, spreadsheets, metrics."""
