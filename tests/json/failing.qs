# A script that fails inside `source` (tests/json/check_json.py).
eval split=nonexistent_split
