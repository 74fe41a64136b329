# firstwordofthecaption: a caption far longer than the old box of two or three lines, as a
# demo's first step may need: it says what the model is, what the data is, what the next
# command does and where on the screen to look for its result, and the box grows to hold
# every line of it at 80x24 and at 200x60 alike, so that the reader sees the sentence end
# here with its lastwordofthecaption.
mode fp16
# The second step.
mode fp32
