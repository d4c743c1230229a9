package report

import (
	"fmt"
	"io"
	"strings"
)

// Markdown writes the report as a Markdown model card (GitHub-flavoured
// tables), for a git repository or a pull request. It holds every table of
// the HTML page but no charts.
func Markdown(w io.Writer, r *Report) error {
	var b mdWriter
	h := r.Header
	b.f("# Model card: %s\n\n", h.Pipeline)
	if h.Description != "" {
		b.f("%s\n\n", h.Description)
	}
	switch {
	case h.Verdict == VerdictMonitoringFailed:
		b.f("> **MONITORING FAILED**: the latest monitored batch, %s.\n> The run itself passed: run %s, %d checks and gates, none failed", latestPhrase(h.Latest), h.Status, h.CheckSum)
		if h.Warned > 0 {
			b.f(" (%d warnings)", h.Warned)
		}
		b.f(".\n\n")
	case h.Passed:
		b.f("> **PASS**: run %s, %d checks and gates, none failed", h.Status, h.CheckSum)
		if h.Warned > 0 {
			b.f(" (%d warnings)", h.Warned)
		}
		b.f(".")
		if h.Latest != nil {
			b.f("\n> The latest monitored batch, %s.", latestPhrase(h.Latest))
		}
		b.f("\n\n")
	case h.Verdict == VerdictWaived:
		b.f("> **WAIVED**: run %s, %d of %d checks and gates failed and are waived (not passed: see Governance), %d warnings.", h.Status, h.Waived, h.CheckSum, h.Warned)
		if h.Latest != nil {
			b.f("\n> The latest monitored batch, %s.", latestPhrase(h.Latest))
		}
		b.f("\n\n")
	default:
		b.f("> **FAIL**: run %s, %d of %d checks and gates failed, %d warnings.", h.Status, h.Failed, h.CheckSum, h.Warned)
		if h.Latest != nil {
			b.f("\n> The latest monitored batch, %s.", latestPhrase(h.Latest))
		}
		b.f("\n\n")
	}
	models := "not registered"
	if len(h.Models) > 0 {
		var ms []string
		for _, m := range h.Models {
			s := fmt.Sprintf("%s version %d", m.Name, m.Version)
			if len(m.Aliases) > 0 {
				s += " (" + strings.Join(m.Aliases, ", ") + ")"
			}
			if m.Selected {
				s = "**" + s + "**"
			}
			ms = append(ms, s)
		}
		models = strings.Join(ms, "; ")
	}
	git := "not in a git repository"
	if h.Git != nil {
		git = "`" + h.Git.Commit + "`"
		if h.Git.Dirty {
			git += " (uncommitted changes)"
		}
	}
	audit := "no audit entry"
	if h.AuditHead != "" {
		audit = fmt.Sprintf("`%s` (entry %d)", h.AuditHead, h.AuditSeq)
	}
	b.table([]string{"", ""}, [][]string{
		{"Pipeline", h.Pipeline + " (`" + baseName(h.File) + "`, sha256 `" + shortID(h.FileSHA256) + "`)"},
		{"Run", "`" + h.RunID + "`"},
		{"Model", models},
		{"Created", h.Created.UTC().Format("2006-01-02 15:04:05 UTC") + " (run start)"},
		{"By", orText(h.User, "unknown") + hostSuffix(h.Host)},
		{"mlrun version", h.MlrunVersion},
		{"Git commit", git},
		{"Audit head", audit},
	})

	b.f("## Intended use\n\n")
	c := r.Card
	if c.Unavailable != "" {
		b.f("Model card not available: %s.\n\n", c.Unavailable)
	}
	rows := [][]string{
		{"Intended use", orText(c.IntendedUse, "*not provided*")},
		{"Out of scope", orText(c.OutOfScope, "*not provided*")},
		{"Owner", orText(c.Owner, "*not provided*")},
		{"Contacts", orText(strings.Join(c.Contacts, ", "), "*not provided*")},
		{"Limitations", orText(c.Limitations, "*not provided*")},
	}
	for _, kv := range c.OtherKV {
		rows = append(rows, []string{kv.Key, kv.Value})
	}
	prot := "*none declared*"
	if len(c.Protected) > 0 {
		prot = strings.Join(c.Protected, ", ") + " (excluded from the features)"
	}
	rows = append(rows, []string{"Protected attributes", prot})
	b.table([]string{"", ""}, rows)

	b.f("## Checks and gates\n\n")
	if len(r.Checks) == 0 {
		b.f("The run evaluated no checks or gates.\n\n")
	} else {
		var rows [][]string
		for _, c := range r.Checks {
			msg := c.Message
			if c.Waiver != "" {
				msg += " (waived: " + c.Waiver + ")"
			}
			rows = append(rows, []string{c.Step, c.Name, c.Kind, c.Severity, outcomeMD(c), msg})
		}
		b.table([]string{"Step", "Check", "Kind", "Severity", "Outcome", "Detail"}, rows)
	}

	b.f("## Data\n\n")
	for _, in := range r.Data.Inputs {
		b.f("### Input %s\n\n`%s`: %s rows × %d columns, sha256 `%s`.\n\n", in.Step, in.Path, count(in.Rows), len(in.Columns), in.SHA256)
		var rows [][]string
		for _, c := range in.Columns {
			if c.Missing > 0 {
				rows = append(rows, []string{c.Name, c.Type, count(c.Missing), pct(c.Share)})
			}
		}
		if len(rows) == 0 {
			b.f("No missing values.\n\n")
		} else {
			b.f("Columns with missing values:\n\n")
			b.table([]string{"Column", "Type", "Missing", "Share"}, rows)
		}
	}
	for _, v := range r.Data.Validations {
		b.f("### Validation %s\n\n%s rows, %s missing cells (%s).\n\n", v.Step, count(v.Rows), count(v.MissingCells), pct(v.MissingFraction))
		var rows [][]string
		for _, ru := range v.Rules {
			rows = append(rows, []string{ru.Name, "`" + ru.Desc + "`", ru.Severity, outcomeMD(ru.CheckRow), ru.Message})
		}
		b.table([]string{"Rule", "Definition", "Severity", "Outcome", "Detail"}, rows)
	}
	for _, s := range r.Data.Splits {
		extra := ""
		if s.Extra != "" {
			extra = ", " + s.Extra
		}
		b.f("### Split %s\n\nMethod %s%s; test %s; seed %d.\n\n", s.Step, s.Method, extra, pct(s.Test), s.Seed)
		var rows [][]string
		for _, o := range s.Outputs {
			rows = append(rows, []string{o.Name, count(o.Rows), pct(o.Share), count(o.Positives), pct(o.Rate)})
		}
		b.table([]string{"Output", "Rows", "Share", "Bads", "Bad rate"}, rows)
	}

	b.f("## Features\n\n")
	if len(r.Features.Derived) > 0 {
		var rows [][]string
		for _, d := range r.Features.Derived {
			rows = append(rows, []string{d.Step, d.Name, "`" + d.Expr + "`", strings.Join(d.Uses, ", ")})
		}
		b.table([]string{"Step", "Column", "Expression", "Uses"}, rows)
	}
	if len(r.Features.Lineage) > 0 {
		var rows [][]string
		for _, l := range r.Features.Lineage {
			via := "(read as is)"
			if len(l.Via) > 0 {
				via = strings.Join(l.Via, " ← ")
			}
			rows = append(rows, []string{l.Feature, via, strings.Join(l.Sources, ", ")})
		}
		b.f("Column lineage, CSV field to model input:\n\n")
		b.table([]string{"Model input", "Derived via", "CSV fields"}, rows)
	}

	b.f("## Training\n\n")
	for _, t := range r.Training {
		b.f("### %s: %s\n\nTarget `%s`; seed %d; %s training rows; duration %s.\n\n", t.Step, t.Algorithm, t.Target, t.Seed, count(t.Rows), dur(t.Duration))
		var rows [][]string
		for _, p := range t.Params {
			rows = append(rows, []string{p.Key, "`" + p.Value + "`"})
		}
		b.table([]string{"Hyperparameter", "Value"}, rows)
	}

	b.f("## Performance\n\n")
	for _, e := range r.Evaluation {
		b.f("### %s on %s\n\n", e.Step, orText(e.Data, "its data"))
		if e.Error != "" {
			b.f("Not recomputed: %s.\n\n", e.Error)
			continue
		}
		b.f("%s rows, %s bads, threshold %s.\n\n", count(e.Rows), count(e.Positives), sig3(e.Threshold))
		var rows [][]string
		for _, m := range e.Metrics {
			v := sig3(m.Value)
			if m.Pct {
				v = pct(m.Value)
			}
			rows = append(rows, []string{m.Name, v})
		}
		rows = append(rows, []string{"AUC 95% interval", fmt.Sprintf("%s – %s (bootstrap, %d resamples)", sig3(e.AUCLow), sig3(e.AUCHigh), e.Resamples)})
		if e.HL != nil {
			rows = append(rows, []string{"Hosmer–Lemeshow", fmt.Sprintf("H = %s, p = %s (%d groups)", sig3(e.HL.Statistic), sig3(e.HL.PValue), e.HL.Groups)})
		}
		b.table([]string{"Metric", "Value"}, rows)
		cf := e.Confusion
		b.table([]string{"", "Predicted bad", "Predicted good"}, [][]string{
			{"Actual bad", sig3(cf.TP), sig3(cf.FN)},
			{"Actual good", sig3(cf.FP), sig3(cf.TN)},
		})
		if len(e.Mismatch) > 0 {
			b.f("The recomputed metrics differ from the recorded ones: %s.\n\n", strings.Join(e.Mismatch, "; "))
		}
		if tt := e.TrainTest; tt != nil {
			b.f("Train vs test: the model on its training data (%s) and on %s.\n\n", orText(tt.TrainData, "its input"), orText(e.Data, "the evaluated data"))
			if tt.Error != "" {
				b.f("Not computed: %s.\n\n", tt.Error)
			} else {
				var rows [][]string
				for _, r := range tt.Rows {
					f := sig3
					if r.Pct {
						f = pct
					}
					rows = append(rows, []string{r.Name, f(r.Train), f(r.Test), f(r.Diff())})
				}
				b.table([]string{"Metric", fmt.Sprintf("Train (%s rows)", count(tt.TrainRows)), fmt.Sprintf("Test (%s rows)", count(tt.TestRows)), "Test − train"}, rows)
				b.f("PSI of the score, test against train over %d quantile bins of the training scores: %s (below 0.1 stable, 0.1–0.25 moderate shift, above 0.25 major shift).\n\n", tt.PSIBins, sig3(tt.ScorePSI))
			}
		}
		if len(e.Gains) > 0 {
			b.f("Gains by score decile (rows by decreasing probability of default, %d groups of equal size; decile 1 the riskiest):\n\n", len(e.Gains))
			var rows [][]string
			for _, g := range e.Gains {
				rows = append(rows, []string{fmt.Sprint(g.Decile), count(g.Rows), sig3(g.MinScore) + " – " + sig3(g.MaxScore), count(g.Bads), count(g.Goods),
					pct(g.BadRate), pct(g.CumBads), pct(g.CumGoods), sig3(g.KS), sig3(g.Lift), sig3(g.CumLift)})
			}
			b.table([]string{"Decile", "Rows", "Probability of default", "Bads", "Goods", "Bad rate", "Cum. bads", "Cum. goods", "KS", "Lift", "Cum. lift"}, rows)
		}
	}

	b.f("## Explainability\n\n")
	for _, t := range r.Training {
		if len(t.Importance) == 0 {
			continue
		}
		b.f("%s: %s.\n\n", t.Step, t.ImportanceKind)
		var rows [][]string
		for _, im := range t.Importance {
			rows = append(rows, []string{im.Feature, sig3(im.Value)})
		}
		b.table([]string{"Feature", "Importance"}, rows)
	}
	for _, t := range r.Training {
		c := t.Coefficients
		if c == nil {
			if t.CoefNote != "" {
				b.f("%s: %s\n\n", t.Step, t.CoefNote)
			}
			continue
		}
		b.f("%s: Coefficients of the logistic regression (signed, on the log-odds of default); β per standard deviation, β′ in original units (per unit of the feature)", t.Step)
		if !c.Standardized {
			b.f("; standardize was off: both scales are the features' own")
		}
		b.f(".\n\n")
		var rows [][]string
		for _, co := range c.Rows {
			rows = append(rows, []string{co.Column, co.Direction(), signed(co.Coef), sig3(co.OddsRatio), signed(co.CoefOriginal), sig3(co.Mean), sig3(co.Scale)})
		}
		rows = append(rows, []string{"Intercept", "baseline log-odds", signed(c.Intercept), "", signed(c.InterceptOriginal), "", ""})
		oddsHead := "Odds ratio per SD"
		if !c.Standardized {
			oddsHead = "Odds ratio per unit"
		}
		b.table([]string{"Design column", "Effect", "β (standardised)", oddsHead, "β′ (original units)", "Mean", "SD"}, rows)
	}
	if len(c.Reasons) > 0 {
		var rows [][]string
		for _, kv := range c.Reasons {
			rows = append(rows, []string{kv.Key, kv.Value})
		}
		b.table([]string{"Feature", "Reason code"}, rows)
	} else {
		b.f("Reason codes: *not provided*.\n\n")
	}

	b.f("## Fairness\n\n")
	anyFair := false
	for _, e := range r.Evaluation {
		for _, f := range e.Fairness {
			anyFair = true
			b.f("### %s (%s)\n\n", f.Column, e.Step)
			if f.Error != "" {
				b.f("%s.\n\n", f.Error)
			}
			if f.Bands != "" {
				b.f("%s.\n\n", f.Bands)
			}
			if f.Report == nil {
				continue
			}
			fr := f.Report
			b.f("Disparate impact %s (four-fifths rule: at least 0.8), least favoured %s, most favoured %s.\n\n", sig3(float64(fr.DisparateImpact)), fr.LeastFavoured, fr.MostFavoured)
			var rows [][]string
			for _, g := range fr.Groups {
				name := g.Group
				if g.Small {
					name += " (small)"
				}
				rows = append(rows, []string{name, count(g.Count), pct(float64(g.ApprovalRate)), pct(float64(g.TPR)), pct(float64(g.FPR)), pct(float64(g.DefaultRate))})
			}
			b.table([]string{"Group", "Rows", "Approval rate", "TPR", "FPR", "Bad rate"}, rows)
		}
	}
	if !anyFair {
		b.f("No group column: no `protected:` attributes and no monitor `group`.\n\n")
	}

	b.f("## Monitoring\n\n")
	if len(r.Monitoring) == 0 {
		b.f("No monitoring batches recorded for this run.\n\n")
	}
	for i, m := range r.Monitoring {
		b.f("### Batch %d: %s\n\n", i+1, m.Source)
		if m.Error != "" {
			b.f("%s\n\n", m.Error)
			continue
		}
		b.f("%s rows; %s of the features drifted; score PSI %s; %d of %d checks did not pass (%d critical).\n\n", count(m.Rows), pct(m.Share), sig3(m.ScorePSI), len(m.Failed), m.CheckRows, m.Critical)
		var rows [][]string
		for _, f := range m.Features {
			verdict := "stable"
			if f.Drifted {
				verdict = "**drifted**"
			}
			rows = append(rows, []string{f.Feature, sig3(f.PSI), sig3(f.KS), verdict})
		}
		b.table([]string{"Feature", "PSI", "KS", "Verdict"}, rows)
	}

	if g := r.Governance; g != nil && !g.Empty() {
		b.f("## Governance\n\nRun by %s", orText(g.Actor, "an unrecorded actor"))
		if g.Via != "" {
			b.f(" (via %s)", g.Via)
		}
		b.f(". Approvals and waivers are SSH-signed by allowed keys.\n\n")
		if len(g.Waivers) > 0 {
			var rows [][]string
			for _, w := range g.Waivers {
				rows = append(rows, []string{"`" + w.ID + "`", w.Target, w.Status, w.Approver + " `" + w.Key + "`", w.Reason})
			}
			b.table([]string{"Waiver", "Target", "Status", "Approved by", "Reason"}, rows)
		}
		for _, m := range g.Models {
			b.f("### %s\n\nRegistered by %s.\n\n", m.Ref, m.Registrar)
			for _, p := range m.Protections {
				b.f("- Alias `%s` protected: %s\n", p.Key, p.Value)
			}
			for _, q := range m.Requests {
				b.f("- Request `%s` (%s): %s, %s approvals, proposed %s by %s: %s\n", q.Ref, q.What, q.Status, q.Approvals, q.Created.Format("2006-01-02 15:04Z"), q.Proposer, q.Reason)
				for _, d := range q.Decisions {
					b.f("  - %s by %s `%s` %s: %s\n", d.Verdict, d.Principal, d.Key, d.Time.Format("2006-01-02 15:04Z"), d.Reason)
				}
			}
			for _, f := range m.Refusals {
				b.f("- Promotion to `%s` **refused** %s (by %s: %s): %s\n", f.Alias, f.Time.Format("2006-01-02 15:04Z"), f.Actor, f.Reason, strings.Join(f.Gates, "; "))
			}
			for _, mv := range m.Moves {
				b.f("- %s: %s\n", mv.Key, mv.Value)
			}
			b.f("\n")
		}
	}

	b.f("## Lineage\n\n")
	var lrows [][]string
	for _, s := range r.Lineage {
		cache := "ran"
		if s.CacheHit {
			cache = "cached"
		}
		var outs []string
		for _, o := range s.Outputs {
			outs = append(outs, o.Port+" `"+shortID(o.ID)+"`")
		}
		lrows = append(lrows, []string{s.ID, s.Kind, s.Status, cache, strings.Join(outs, ", ")})
	}
	b.table([]string{"Step", "Kind", "Status", "Cache", "Outputs"}, lrows)
	if len(r.Notes) > 0 {
		b.f("## Notes\n\n")
		for _, n := range r.Notes {
			b.f("- %s\n", n)
		}
		b.f("\n")
	}
	b.f("*Written by `mlrun report` from run %s.*\n", h.RunID)
	_, err := io.WriteString(w, b.String())
	return err
}

type mdWriter struct{ strings.Builder }

func (b *mdWriter) f(format string, args ...any) { fmt.Fprintf(b, format, args...) }

// table writes a GitHub table; an all-empty header row is written as
// blank cells (a key/value table).
func (b *mdWriter) table(head []string, rows [][]string) {
	cell := func(s string) string {
		s = strings.ReplaceAll(s, "|", `\|`)
		return strings.ReplaceAll(s, "\n", " ")
	}
	b.WriteString("|")
	for _, h := range head {
		b.WriteString(" " + cell(h) + " |")
	}
	b.WriteString("\n|")
	for range head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func outcomeMD(c CheckRow) string {
	if o := c.Outcome(); o == "FAIL" || o == "WAIVED" {
		return "**" + o + "**"
	} else {
		return o
	}
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func hostSuffix(h string) string {
	if h == "" {
		return ""
	}
	return " on " + h
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}
