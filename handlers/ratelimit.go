package handlers

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/nectarcloud/nls/licensing"
)

// Rate is a number of requests per window; a zero Limit means unlimited.
type Rate struct {
	Limit  int
	Window time.Duration
}

func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.Limit, r.Window) }

// ParseRate reads "600/1m" (requests per window); "0" or "off" disables.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "off" {
		return Rate{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("expected requests/window such as 600/1m, got %q", s)
	}
	limit, err := strconv.Atoi(n)
	if err != nil || limit < 0 {
		return Rate{}, fmt.Errorf("expected a non-negative request count before /, got %q", n)
	}
	window, err := time.ParseDuration(w)
	if err != nil || window < time.Second {
		return Rate{}, fmt.Errorf("expected a window of at least 1s after / (e.g. 1m), got %q", w)
	}
	return Rate{Limit: limit, Window: window}, nil
}

// Limiter counts requests per key in fixed windows. Implementations are in
// memory (one process) or in Redis (shared by several processes).
type Limiter interface {
	Allow(ctx context.Context, key string, r Rate) (ok bool, retryAfter time.Duration, err error)
}

// MemoryLimiter keeps windows in process memory, sharded to spread lock contention.
type MemoryLimiter struct {
	shards [32]limiterShard
	now    func() time.Time
}

type limiterShard struct {
	mu      sync.Mutex
	windows map[string]window
}

type window struct {
	start time.Time
	count int
}

// NewMemoryLimiter returns an in-memory limiter; now may be nil for the real clock.
func NewMemoryLimiter(now func() time.Time) *MemoryLimiter {
	if now == nil {
		now = time.Now
	}
	l := &MemoryLimiter{now: now}
	for i := range l.shards {
		l.shards[i].windows = make(map[string]window)
	}
	return l
}

// Allow counts one request against key.
func (l *MemoryLimiter) Allow(_ context.Context, key string, r Rate) (bool, time.Duration, error) {
	if r.Limit <= 0 {
		return true, 0, nil
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	sh := &l.shards[h.Sum32()%uint32(len(l.shards))]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	w := sh.windows[key]
	if now.Sub(w.start) >= r.Window {
		w = window{start: now}
		if len(sh.windows) > 50_000 {
			sh.sweep(now, r.Window)
		}
	}
	if w.count >= r.Limit {
		return false, w.start.Add(r.Window).Sub(now), nil
	}
	w.count++
	sh.windows[key] = w
	return true, 0, nil
}

// sweep drops finished windows so that the map cannot grow without bound.
func (sh *limiterShard) sweep(now time.Time, longest time.Duration) {
	for k, w := range sh.windows {
		if now.Sub(w.start) >= longest {
			delete(sh.windows, k)
		}
	}
}

// Charge counts n more requests against key, whatever the count already is.
func (l *MemoryLimiter) Charge(_ context.Context, key string, r Rate, n int) error {
	if r.Limit <= 0 || n <= 0 {
		return nil
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	sh := &l.shards[h.Sum32()%uint32(len(l.shards))]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	w := sh.windows[key]
	if now.Sub(w.start) >= r.Window {
		w = window{start: now}
	}
	w.count += n
	sh.windows[key] = w
	return nil
}

// RedisLimiter shares windows between portal processes.
type RedisLimiter struct {
	client *redis.Client
}

// NewRedisLimiter connects to url (redis://...).
func NewRedisLimiter(url string) (*RedisLimiter, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	return &RedisLimiter{client: redis.NewClient(opts)}, nil
}

// Close releases the connection pool.
func (l *RedisLimiter) Close() error { return l.client.Close() }

// Allow counts one request against key in Redis (INCR with an expiry set by the first hit).
func (l *RedisLimiter) Allow(ctx context.Context, key string, r Rate) (bool, time.Duration, error) {
	if r.Limit <= 0 {
		return true, 0, nil
	}
	k := "nls:rl:" + key
	pipe := l.client.TxPipeline()
	incr := pipe.Incr(ctx, k)
	pipe.ExpireNX(ctx, k, r.Window)
	ttl := pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil {
		return true, 0, err
	}
	if incr.Val() > int64(r.Limit) {
		return false, ttl.Val(), nil
	}
	return true, 0, nil
}

// Charge counts n more requests against key in Redis, in one round trip.
func (l *RedisLimiter) Charge(ctx context.Context, key string, r Rate, n int) error {
	if r.Limit <= 0 || n <= 0 {
		return nil
	}
	k := "nls:rl:" + key
	pipe := l.client.TxPipeline()
	pipe.IncrBy(ctx, k, int64(n))
	pipe.ExpireNX(ctx, k, r.Window)
	_, err := pipe.Exec(ctx)
	return err
}

// charger is a Limiter that can count one request as several at once.
type charger interface {
	Charge(ctx context.Context, key string, r Rate, n int) error
}

// charge counts n extra requests against key (a failed authentication
// weighs more than a request). It never refuses: the next request does.
func (s *Server) charge(c *fiber.Ctx, key string, r Rate, n int) {
	if r.Limit <= 0 || s.limiter == nil {
		return
	}
	ch, ok := s.limiter.(charger)
	if !ok {
		for i := 0; i < n; i++ {
			_, _, _ = s.limiter.Allow(c.UserContext(), key, r)
		}
		return
	}
	if err := ch.Charge(c.UserContext(), key, r, n); err != nil {
		s.log.Warn("rate limiter unavailable, failed authentication not counted", "err", err)
	}
}

func keyByIP(c *fiber.Ctx) string { return clientIP(c) }

// rateLimit refuses requests over r per key with 429 and Retry-After.
func (s *Server) rateLimit(name string, r Rate, key func(*fiber.Ctx) string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.limit(c, name+":"+key(c), r)
	}
}

// limit counts the request against key and continues, or answers 429. If
// the limiter's store fails the request goes through: an outage of Redis
// must not take licensing down with it.
func (s *Server) limit(c *fiber.Ctx, key string, r Rate) error {
	if err := s.allow(c, key, r); err != nil {
		return err
	}
	return c.Next()
}

// allow is limit without continuing, for handlers that limit mid-way.
func (s *Server) allow(c *fiber.Ctx, key string, r Rate) error {
	if r.Limit <= 0 || s.limiter == nil {
		return nil
	}
	ok, retry, err := s.limiter.Allow(c.UserContext(), key, r)
	if err != nil {
		s.log.Warn("rate limiter unavailable, allowing request", "err", err)
		return nil
	}
	if !ok {
		return tooManyRequests(c, retry)
	}
	return nil
}

func tooManyRequests(c *fiber.Ctx, retry time.Duration) error {
	secs := int((retry + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	return licensing.Errorf(licensing.ERATELIMITED, "too many requests; retry in %d seconds", secs)
}
