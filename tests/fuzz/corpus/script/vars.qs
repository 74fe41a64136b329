let n?=3 m=x
echo "n=${n}" 'lit;eral' # comment
set seed=7 batch=16; get seed
set output=json; help load
