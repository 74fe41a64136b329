# An undefined ${NAME} stops the script at its line, naming the variable.
let epochs?=2
echo ${epochs}
echo ${epoch}
