package db

import "time"

// Paced flushes. The background writers — last-seen times (LastSeen) and
// validation counts and sightings (ValidationStats) — gather rows in memory
// and write them every few seconds. A busy process's flush is tens of
// thousands of rows (make bench's production mix: 35,000 last-seen times,
// 0.8 s of one PostgreSQL backend; 11,000 sightings, 0.35 s), and one
// statement for all of them took one of the machine's cores from the
// requests at once, which showed in their tail latency. So a flush writes
// flushChunk rows a statement, each statement its own transaction, and rests
// between chunks.

// flushChunk is how many rows one statement of a flush writes.
const flushChunk = 2000

// flushJob is one chunk of a flush: its statement, and what keeps its rows
// for the next flush when it is not written.
type flushJob struct {
	write func() error
	keep  func()
}

// chunked cuts rows [0, n) into flushChunk-sized jobs.
func chunked(n int, write func(from, to int) error, keep func(from, to int)) []flushJob {
	jobs := make([]flushJob, 0, (n+flushChunk-1)/flushChunk)
	for from := 0; from < n; from += flushChunk {
		to := min(from+flushChunk, n)
		jobs = append(jobs, flushJob{write: func() error { return write(from, to) }, keep: func() { keep(from, to) }})
	}
	return jobs
}

// runFlush runs jobs in order. Given a spread, it rests after each job but
// the last as long as the job took, up to spread/len(jobs), so that a large
// flush takes at most about half a core and spread of rests in all. Once
// stop closes (the process is shutting down), it rests no more and writes
// the rest at once. When a job fails, its rows and the rest's are kept for
// the next flush, unsent, and its error is answered: the chunks written stay
// written, each exactly once.
func runFlush(stop <-chan struct{}, spread time.Duration, jobs []flushJob) error {
	for i, job := range jobs {
		began := time.Now()
		if err := job.write(); err != nil {
			for _, j := range jobs[i:] {
				j.keep()
			}
			return err
		}
		if i == len(jobs)-1 || spread <= 0 {
			continue
		}
		rest := time.NewTimer(min(time.Since(began), spread/time.Duration(len(jobs))))
		select {
		case <-stop:
			rest.Stop()
			spread = 0
		case <-rest.C:
		}
	}
	return nil
}
