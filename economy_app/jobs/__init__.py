"""Scheduled jobs: APScheduler set-up (started in the app's lifespan, never at import) and job functions."""
