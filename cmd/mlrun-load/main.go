// Command mlrun-load is the load generator of the serve benchmark
// (bench/stages/serve.sh): it POSTs single-record JSON bodies, one per line
// of a file, to a URL from C concurrent keep-alive connections for a fixed
// duration (closed loop: each connection sends its next request when the
// previous one is answered), after a warm-up that is not counted, and
// prints one JSON object: requests answered 200, errors, throughput, and
// latency percentiles (p50, p90, p99, max) in milliseconds.
//
// Usage:
//
//	mlrun-load -url http://127.0.0.1:8080/score -bodies records.jsonl -c 16 -d 5s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mlrun-load:", err)
		os.Exit(2)
	}
}

// result is what mlrun-load prints.
type result struct {
	URL         string  `json:"url"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	OK          int     `json:"ok"`
	Errors      int     `json:"errors"`
	Non200      int     `json:"non_200"`
	RPS         float64 `json:"rps"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	// Checked is the number of answers whose body held Expect.
	Checked int `json:"checked"`
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mlrun-load", flag.ContinueOnError)
	url := fs.String("url", "", "URL to POST to")
	bodiesPath := fs.String("bodies", "", "file of request bodies, one JSON document per line")
	conc := fs.Int("c", 16, "concurrent connections")
	dur := fs.Duration("d", 5*time.Second, "measured duration")
	warm := fs.Duration("warmup", time.Second, "warm-up before measuring (not counted)")
	expect := fs.String("expect", "", "a string every 200 answer must contain (checked on every answer)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *bodiesPath == "" || *conc < 1 || *dur <= 0 {
		return errors.New("-url and -bodies are required; -c and -d must be positive")
	}
	bodies, err := readBodies(*bodiesPath)
	if err != nil {
		return err
	}
	tr := &http.Transport{
		MaxIdleConns: *conc, MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	want := []byte(*expect)

	start := time.Now()
	measureFrom := start.Add(*warm)
	end := measureFrom.Add(*dur)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	type worker struct {
		lat                  []time.Duration
		errs, non200, checks int
	}
	ws := make([]worker, *conc)
	var wg sync.WaitGroup
	for g := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ws[g]
			for n := g; ; n += *conc {
				body := bodies[n%len(bodies)]
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", *url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				var data []byte
				if err == nil {
					data, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) {
					continue // warm-up, or cut by the deadline
				}
				switch {
				case err != nil:
					w.errs++
				case resp.StatusCode != http.StatusOK:
					w.non200++
				default:
					w.lat = append(w.lat, t1.Sub(t0))
					if len(want) > 0 && bytes.Contains(data, want) {
						w.checks++
					}
				}
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	r := result{URL: *url, Concurrency: *conc, Seconds: dur.Seconds()}
	for _, w := range ws {
		all = append(all, w.lat...)
		r.Errors += w.errs
		r.Non200 += w.non200
		r.Checked += w.checks
	}
	slices.Sort(all)
	r.OK = len(all)
	r.RPS = float64(r.OK) / dur.Seconds()
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p*float64(len(all))+0.5) - 1
		return float64(all[max(0, min(i, len(all)-1))].Microseconds()) / 1000
	}
	r.P50, r.P90, r.P99, r.Max = pct(0.50), pct(0.90), pct(0.99), pct(1)
	if len(want) > 0 && r.Checked != r.OK {
		return fmt.Errorf("%d of %d answers lack %q", r.OK-r.Checked, r.OK, *expect)
	}
	enc := json.NewEncoder(stdout)
	return enc.Encode(r)
}

func readBodies(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			if !json.Valid(line) {
				return nil, fmt.Errorf("%s:%d: not JSON", path, len(out)+1)
			}
			out = append(out, slices.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no bodies", path)
	}
	return out, nil
}
