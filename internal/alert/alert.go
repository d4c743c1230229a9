// Package alert delivers monitoring alerts to their sinks: a line of JSON
// appended to a file, and an HTTP POST of the same JSON to a webhook, with a
// timeout per attempt and bounded retries with exponential backoff.
//
// The JSON body carries a human `text` field, so Slack-style incoming
// webhooks show it as the message. New builds the alert about a monitor's
// failed checks, and a Sink (as a monitor step's alerts setting declares
// it) delivers it. The outbox (Queue, Flush) keeps alerts in the store
// until they are delivered; Send, AppendFile and Sink.Deliver only report
// a failure.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// Alert is one alert: a monitored batch whose checks failed.
type Alert struct {
	// ID identifies the alert (the monitored batch's record name), so a
	// receiver can drop a duplicate of a retried delivery.
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Severity is the worst failed check's severity: critical or warn.
	Severity string `json:"severity"`
	// Text is the human message.
	Text string `json:"text"`
	// Model and Version name the registered model version monitored, if
	// any.
	Model   string `json:"model,omitempty"`
	Version int    `json:"version,omitempty"`
	// Run and Step say where the checks come from: the run and train step
	// of the model (`mlrun monitor`), or the run and its monitor step
	// (`mlrun run`).
	Run  string `json:"run"`
	Step string `json:"step"`
	// Data names the batch; Report is the monitor report's object id.
	Data   string  `json:"data"`
	Report string  `json:"report"`
	Failed []Check `json:"failed"`
	// Delivery is the stable id of this alert's delivery to one sink (also
	// sent as the Idempotency-Key header), so that a receiver can drop a
	// duplicate; empty for an alert sent without the outbox.
	Delivery string `json:"delivery,omitempty"`
}

// Check is a failed check with the numbers that tripped it.
type Check struct {
	Name     string             `json:"name"`
	Severity string             `json:"severity"`
	Message  string             `json:"message"`
	Values   map[string]float64 `json:"values,omitempty"`
}

// Defaults of a Webhook.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 3
	DefaultBackoff = 500 * time.Millisecond
	// MaxBackoff caps one wait, Retry-After included.
	MaxBackoff = 30 * time.Second
)

// ErrDelivery wraps every failed delivery.
var ErrDelivery = errors.New("alert not delivered")

// AppendFile appends the alert to a JSON-lines file as one line (created
// with mode 0644), and syncs it.
func AppendFile(path string, a *Alert) error { return appendFile(path, a, nil) }

func appendFile(path string, a *Alert, guard FileGuard) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if guard != nil {
		if err := guard.AppendFile(path, append(b, '\n')); err != nil {
			return fmt.Errorf("%w: %w", ErrDelivery, err)
		}
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDelivery, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("%w: %s: %w", ErrDelivery, path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%w: %s: %w", ErrDelivery, path, err)
	}
	return f.Close()
}

// Webhook posts alerts to a URL.
type Webhook struct {
	URL string
	// Timeout bounds each attempt (0: DefaultTimeout).
	Timeout time.Duration
	// Retries is the number of attempts after the first (negative: none).
	Retries int
	// Backoff is the wait before the first retry, doubled before each
	// next one up to MaxBackoff (0: DefaultBackoff).
	Backoff time.Duration
	// Client sends the requests (nil: a new http.Client).
	Client *http.Client
	// IdempotencyKey, when set, is sent as the Idempotency-Key header of
	// every attempt, so that the receiver can drop duplicates.
	IdempotencyKey string
}

// Send posts the alert as JSON. It retries network errors, timeouts and
// the statuses 408, 429 and 5xx (waiting as a Retry-After header in
// seconds asks, up to MaxBackoff); any other non-2xx status is final.
// It returns the number of attempts made and, on failure, an error wrapping
// ErrDelivery with the last attempt's reason.
func (w *Webhook) Send(ctx context.Context, a *Alert) (int, error) {
	body, err := json.Marshal(a)
	if err != nil {
		return 0, err
	}
	client := w.Client
	if client == nil {
		client = &http.Client{}
	}
	timeout, backoff := w.Timeout, w.Backoff
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	var last error
	attempts := 0
	for try := 0; try <= max(w.Retries, 0); try++ {
		if try > 0 {
			wait := min(backoff, MaxBackoff)
			var ra *retryAfter
			if errors.As(last, &ra) && ra.d > 0 {
				wait = min(ra.d, MaxBackoff)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return attempts, fmt.Errorf("%w: %s: %w (after %v)", ErrDelivery, redact(w.URL), ctx.Err(), last)
			case <-t.C:
			}
			backoff *= 2
		}
		attempts++
		retry, err := w.post(ctx, client, timeout, body)
		if err == nil {
			return attempts, nil
		}
		last = err
		if !retry {
			break
		}
	}
	return attempts, fmt.Errorf("%w: %s: %d attempt(s): %w", ErrDelivery, redact(w.URL), attempts, last)
}

// retryAfter is a retryable status with the wait the server asked for.
type retryAfter struct {
	status string
	d      time.Duration
}

func (e *retryAfter) Error() string { return e.status }

// post makes one attempt and says whether a failure may be retried.
func (w *Webhook) post(ctx context.Context, client *http.Client, timeout time.Duration, body []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mlrun-monitor")
	if w.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", w.IdempotencyKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error repeats the whole URL, secret path included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return true, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		ra := &retryAfter{status: resp.Status}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			ra.d = time.Duration(s) * time.Second
		}
		return true, ra
	}
	return false, errors.New(resp.Status)
}

// redact drops the path and query of a URL for messages: webhook URLs
// often hold their secret there.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(webhook)"
	}
	if p.Path == "" && p.RawQuery == "" {
		return p.Scheme + "://" + p.Host
	}
	return p.Scheme + "://" + p.Host + "/…"
}
