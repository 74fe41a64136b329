echo "a\"b\\c" ${undefined
let a=${a}
echo "unterminated
