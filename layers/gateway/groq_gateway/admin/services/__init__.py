"""The admin API's operations, one service per resource; each change is audited."""
