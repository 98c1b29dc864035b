"""The admin API's routes, one router per resource."""
