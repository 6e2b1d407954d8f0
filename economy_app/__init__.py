"""economy_app: a multiplayer economy game in the browser. Every cent moves through one ledger."""
