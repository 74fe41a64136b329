# A script that check_json.py runs through `source`.
echo sourced
