"""What leaves the workflow: labels for new rows, merged model folders."""
