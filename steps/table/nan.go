package table

import "math"

var nan = math.NaN()
