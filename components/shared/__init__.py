"""What every layer uses: IAM policy pieces, roles, retention, alarms and the code archives."""
