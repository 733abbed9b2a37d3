package server

import (
	"bufio"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/statement"
)

// HeaderLinesDropped says, on every statement, how many requests of its
// range have no line any more (the JSON body says it too; a CSV file
// cannot).
const HeaderLinesDropped = "X-Statement-Lines-Dropped"

// adminStatement serves GET /admin/statement: the authority's billing
// statement for a range of its calendar days, as JSON or CSV. The
// snapshot is copied under the statement's lock and written afterwards,
// so a large statement never holds up the check API.
func (s *Server) adminStatement(c *fiber.Ctx) error {
	today := statement.DayOf(s.now(), s.statement.Calendar())
	q, err := statement.ParseQuery(string(c.Request().URI().QueryString()), c.Get(fiber.HeaderAccept), today)
	if err != nil {
		return adminError(c, contracts.ErrTokenMismatched, err.Error())
	}
	snap := s.statement.Snapshot(q)
	c.Set(fiber.HeaderContentType, snap.ContentType())
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(HeaderLinesDropped, strconv.FormatInt(snap.LinesDropped(), 10))
	if q.Format == statement.FormatCSV {
		name := "statement-" + q.From.String() + "-" + q.To.String()
		if q.Lines {
			name += "-lines"
		}
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	}
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		if err := snap.Write(w); err != nil {
			s.log.Warn("simulator: statement not fully written", "error", err)
		}
	})
	return nil
}
