"""usage_poller"""
