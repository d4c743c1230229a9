package table

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// genCSV writes a realistic 16-column loan-application CSV of n rows,
// deterministically from seed. About 110 bytes per row, with some missing
// values, quoted strings and a unique id column.
func genCSV(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	b.Grow(n * 120)
	b.WriteString("application_id,application_date,age,annual_income,loan_amount,home_ownership,employment_years,credit_score,total_debt,credit_card_balance,credit_limit,on_time_payments,total_payments,purpose,term_months,loan_default\n")
	homes := []string{"own", "mortgage", "rent", "other"}
	purposes := []string{"debt_consolidation", "car", "home_improvement", "\"medical, dental\"", "education", "small_business", "wedding", "vacation"}
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	buf := make([]byte, 0, 64)
	for i := range n {
		fmt.Fprintf(&b, "APP-%07d,", i+1)
		b.WriteString(start.AddDate(0, 0, r.IntN(1500)).Format("2006-01-02"))
		b.WriteByte(',')
		b.Write(strconv.AppendInt(buf[:0], int64(18+r.IntN(60)), 10))
		b.WriteByte(',')
		if r.IntN(50) == 0 {
			b.WriteString("NA")
		} else {
			b.Write(strconv.AppendFloat(buf[:0], float64(r.IntN(20000000))/100, 'f', 2, 64))
		}
		b.WriteByte(',')
		b.Write(strconv.AppendFloat(buf[:0], float64(500+r.IntN(4000000))/100, 'f', -1, 64))
		b.WriteByte(',')
		b.WriteString(homes[r.IntN(len(homes))])
		b.WriteByte(',')
		if r.IntN(30) != 0 {
			b.Write(strconv.AppendInt(buf[:0], int64(r.IntN(40)), 10))
		}
		b.WriteByte(',')
		b.Write(strconv.AppendInt(buf[:0], int64(300+r.IntN(550)), 10))
		b.WriteByte(',')
		b.Write(strconv.AppendFloat(buf[:0], r.Float64()*80000, 'f', 2, 64))
		b.WriteByte(',')
		b.Write(strconv.AppendFloat(buf[:0], r.Float64()*20000, 'f', 2, 64))
		b.WriteByte(',')
		b.Write(strconv.AppendInt(buf[:0], int64(1000*r.IntN(50)), 10))
		b.WriteByte(',')
		tp := r.IntN(120)
		b.Write(strconv.AppendInt(buf[:0], int64(tp-r.IntN(tp+1)/4), 10))
		b.WriteByte(',')
		b.Write(strconv.AppendInt(buf[:0], int64(tp), 10))
		b.WriteByte(',')
		b.WriteString(purposes[r.IntN(len(purposes))])
		b.WriteByte(',')
		b.Write(strconv.AppendInt(buf[:0], int64(12*(1+r.IntN(5))), 10))
		b.WriteByte(',')
		if r.IntN(5) == 0 {
			b.WriteString("1\n")
		} else {
			b.WriteString("0\n")
		}
	}
	return b.Bytes()
}
