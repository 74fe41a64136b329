# A demo that check_json.py plays: one captioned step.
echo played
