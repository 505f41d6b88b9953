package handlers_test

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/telemetry"
	"github.com/nectarcloud/nls/web/static"
)

// otlpReceiver is an OTLP/HTTP trace endpoint: it decodes what the
// exporter sends, as a collector would.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf POST to /v1/traces", http.StatusBadRequest)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the spans received with the given trace id.
func (r *otlpReceiver) trace(id string) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

func spanAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// TestTracingExportsRequestAndSQLSpans runs the app with tracing configured
// by the standard OTEL_* variables against an in-process OTLP receiver: one
// API request must arrive as a server span and SQL spans under it, in the
// trace whose id the error envelope, X-Request-Id and the access log carry.
func TestTracingExportsRequestAndSQLSpans(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_SERVICE_NAME", "nls-test")

	ctx := context.Background()
	tracing, err := telemetry.Setup(ctx, os.Getenv, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !tracing.Enabled() {
		t.Fatal("tracing is off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	defer tracing.Shutdown(ctx)

	pool, err := db.Connect(ctx, dbtest.NewURL(t), 5, db.WithTracer(tracing.Provider()))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := db.NewStore(pool)
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	keys, sealer := testKeys(t)
	app := handlers.New(testConfig(), handlers.Deps{Store: store, Log: slog.New(slog.NewJSONHandler(logs, nil)),
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys,
		Sealer: sealer, Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", ""),
		Tracer: tracing.Provider()})
	_, secret, err := store.CreateAPIKey(ctx, licensing.SystemActor("test"), "trace", []string{"admin"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// An untrusted caller's traceparent is not continued: the ids in our
	// logs and audit rows are ours to choose.
	theirs := "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest("GET", "/api/licenses/"+uuid.NewString(), nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("traceparent", "00-"+theirs+"-00f067aa0ba902b7-01")
	res, err := app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := wantError(t, response{Status: res.StatusCode, Header: res.Header, Body: b}, 404, "not_found")
	rid, _ := m["requestId"].(string)
	if len(rid) != 32 || rid == strings.Repeat("0", 32) || rid == theirs {
		t.Fatalf("got requestId %q, want a fresh 32-hex trace id", rid)
	}

	if err := tracing.ForceFlush(ctx); err != nil {
		t.Fatalf("exporting spans: %v", err)
	}
	spans := recv.trace(rid)
	var server *tracepb.Span
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span in trace %s; received %d spans in it", rid, len(spans))
	}
	if server.Name != "GET /api/licenses/:id" || spanAttr(server, "http.route") != "/api/licenses/:id" {
		t.Fatalf("got server span %q (route %q), want GET /api/licenses/:id", server.Name, spanAttr(server, "http.route"))
	}
	sql := 0
	for _, s := range spans {
		if spanAttr(s, "db.system.name") == "postgresql" && strings.Contains(strings.ToLower(spanAttr(s, "db.query.text")), "select") {
			sql++
			if len(s.ParentSpanId) == 0 {
				t.Fatalf("SQL span %q has no parent", s.Name)
			}
		}
	}
	if sql == 0 {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("no SQL span in trace %s (spans: %v)", rid, names)
	}

	// The access log line names the same trace.
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" {
			continue
		}
		if rec["trace_id"] == rid && rec["request_id"] == rid && rec["caller_request_id"] == nil {
			found = true
		}
	}
	if !found {
		t.Fatalf("no access log line with trace_id %s:\n%s", rid, logs.String())
	}
}
