package server

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/overview"
	"github.com/stratahq/strata/internal/units"
)

// stateText is what a calendar cell's state means, for its label.
var stateText = map[string]string{
	overview.StateLive:       "live only (in the database, not archived)",
	overview.StateArchived:   "archived",
	overview.StatePartly:     "partly archived (rows still in the database)",
	overview.StateSuperseded: "superseded (a correction replaced objects)",
	overview.StateRestored:   "restored into Layer 2",
	overview.StateExpiring:   "expiring within 30 days",
	overview.StateExpired:    "expired",
}

// calendar draws one archive type's days as a table: a row per month, a
// cell per day, each day with data a link to its day view whose label
// (shown on hover and focus) says what it holds. It is built directly,
// not through html/template, to stay fast on archives of thousands of
// days; every text in it is escaped (template.HTMLEscapeString) or made
// here of digits and fixed words.
func calendar(dataset, typ string, days []overview.Day) template.HTML {
	if len(days) == 0 {
		return template.HTML(`<p class="muted">no ` + template.HTMLEscapeString(typ) + ` days</p>`)
	}
	ds, ty := template.HTMLEscapeString(dataset), template.HTMLEscapeString(typ)
	b := make([]byte, 0, len(days)*230+4096)
	b = fmt.Appendf(b, `<table class="cal" data-dataset="%s" data-type="%s" aria-label="%s %s archive by day"><thead><tr><th scope="col">month</th>`, ds, ty, ds, ty)
	for d := 1; d <= 31; d++ {
		if d%5 == 0 || d == 1 {
			b = fmt.Appendf(b, `<th scope="col">%d</th>`, d)
		} else {
			b = append(b, `<th scope="col"></th>`...)
		}
	}
	b = append(b, `</tr></thead><tbody>`...)
	first, last := days[0].Day, days[len(days)-1].Day
	href := `" href="/console/day?dataset=` + ds + `&amp;type=` + ty + `&amp;day=`
	i := 0
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(last); m = m.AddDate(0, 1, 0) {
		b = append(b, `<tr><th scope="row">`...)
		b = m.AppendFormat(b, "2006-01")
		b = append(b, `</th>`...)
		n := m.AddDate(0, 1, -1).Day()
		for d := 1; d <= 31; d++ {
			if d > n {
				b = append(b, `<td class="x"></td>`...)
				continue
			}
			day := m.AddDate(0, 0, d-1)
			if i < len(days) && days[i].Day.Equal(day) {
				b = cell(b, href, ty, &days[i])
				i++
				continue
			}
			b = append(b, `<td class="e"></td>`...)
		}
		b = append(b, `</tr>`...)
	}
	b = append(b, `</tbody></table>`...)
	return template.HTML(b)
}

// cell appends one day's link; href and ty are escaped already.
func cell(b []byte, href, ty string, d *overview.Day) []byte {
	b = append(b, `<td><a class="c `...)
	b = append(b, d.State...)
	b = append(b, href...)
	b = d.Day.AppendFormat(b, time.DateOnly)
	b = append(b, `" aria-label="`...)
	b = d.Day.AppendFormat(b, time.DateOnly)
	b = append(b, ' ')
	b = append(b, ty...)
	b = append(b, ": "...)
	b = append(b, stateText[d.State]...)
	if d.Objects > 0 {
		b = append(b, "; "...)
		b = strconv.AppendInt(b, int64(d.Objects), 10)
		b = append(b, " object"...)
		if d.Objects > 1 {
			b = append(b, 's')
		}
		b = append(b, ", "...)
		b = appendNum(b, d.Rows)
		b = append(b, " rows, "...)
		b = units.AppendBytes(b, d.Bytes)
	}
	if d.Live > 0 {
		b = append(b, "; "...)
		b = appendNum(b, d.Live)
		b = append(b, " rows in the database"...)
	}
	b = appendCount(b, d.Superseded, " superseded")
	b = appendCount(b, d.Restored, " restored")
	b = appendCount(b, d.Expired, " expired")
	if d.ExpiresAt != nil {
		b = append(b, "; expires "...)
		b = d.ExpiresAt.UTC().AppendFormat(b, time.DateOnly)
	}
	return append(b, `"></a></td>`...)
}

func appendCount(b []byte, n int, what string) []byte {
	if n == 0 {
		return b
	}
	b = append(b, "; "...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, what...)
}

// bars draws the dataset's bytes per place as an inline SVG bar chart:
// PostgreSQL's Layer 3 and Layer 2 against the source and analytics
// archives.
func bars(d overview.Dataset) template.HTML {
	type bar struct {
		label string
		bytes int64
		color string
	}
	var bs []bar
	if d.Layer3 != nil {
		bs = append(bs, bar{"Layer 3 (PostgreSQL)", max(d.Layer3.Bytes, 0), "#9ec5fe"})
	}
	if d.Layer2 != nil {
		bs = append(bs, bar{"Layer 2 (PostgreSQL)", max(d.Layer2.Bytes, 0), "#5b8def"})
	}
	bs = append(bs, bar{"source archive", d.Source.Bytes, "#6aa84f"}, bar{"analytics archive", d.Analytics.Bytes, "#2e7d32"})
	var top int64 = 1
	for _, x := range bs {
		top = max(top, x.bytes)
	}
	const rowH, labelW, barW = 20, 150, 300
	var b strings.Builder
	ds := template.HTMLEscapeString(d.Name)
	fmt.Fprintf(&b, `<svg class="bars" role="img" aria-label="%s: bytes in the database and in the archive" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx">`,
		ds, labelW+barW+90, rowH*len(bs)+4, labelW+barW+90)
	for i, x := range bs {
		y := i*rowH + 2
		w := int(float64(barW) * float64(x.bytes) / float64(top))
		if x.bytes > 0 {
			w = max(w, 1)
		}
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text><rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s: %s</title></rect><text x="%d" y="%d">%s</text>`,
			y+13, x.label, labelW, y+2, w, rowH-6, x.color, x.label, units.Bytes(x.bytes), labelW+w+6, y+13, units.Bytes(x.bytes))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
