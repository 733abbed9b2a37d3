package ledger

// Crash stops p as a killed process would stop: the writer stores nothing
// more (what it had not stored is lost with the process), the journal is
// closed as it stands, unreleased, and its directory lock is let go so
// the test can open the ledger again.
func (p *Postgres) Crash() {
	p.abandon()
	p.q.mu.Lock()
	p.q.held = 0 // the requests holding places died with the process
	p.q.mu.Unlock()
	p.q.close()
	<-p.done
	_ = p.closeJournal(false)
	_ = p.db.Close()
}
