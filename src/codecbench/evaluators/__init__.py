"""The evaluation harness: task planning, executors, metrics, leaderboard aggregation."""
