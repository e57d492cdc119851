// The team report on the supervisor's screen: the last eight weeks from ReportingService.GetKpis —
// collected per week, the promise-kept rate, the book's ageing at each week's end, and a table by
// agent. Charts are SVG elements drawn from the figures (never markup from strings), each with its
// figures in a table beside it for screen readers and exact reading: bar heights are geometry,
// the amounts shown are the service's exact text.

import { useEffect, useState } from "preact/hooks";
import { problem, reporting, type Problem } from "./api";
import type { Date as PbDate, Money } from "./gen/recoup/v1/common_pb";
import { KpiGrouping, type GetKpisResponse, type KpiGroup } from "./gen/recoup/v1/report_pb";
import { ContactBlockReasonSchema } from "./gen/recoup/v1/contact_pb";
import { date, label, money } from "./format";
import { ProblemBox } from "./ui";

const WEEKS = 8;

function pbDate(d: Date): PbDate {
  return { $typeName: "recoup.v1.Date", year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate() };
}

/** An amount as a number, for a bar's height only (never shown). */
function size(m: Money | undefined): number {
  return m ? Number(m.units) + m.nanos / 1e9 : 0;
}

function short(d: PbDate | undefined): string {
  return d ? `${d.day}/${d.month}` : "";
}

interface Bar {
  label: string;
  /** Stacked parts, bottom first. */
  parts: { value: number; text: string; series: number }[];
}

const SERIES = ["#0b5cab", "#5b8fd1", "#e0a030", "#c65a1e", "#a4161a"];

/** A bar chart as SVG elements; `max` is the value of the full height. */
function BarChart(props: { title: string; bars: Bar[]; max: number; legend?: string[] }) {
  const width = 56 * props.bars.length + 20;
  const height = 160;
  const scale = props.max > 0 ? (height - 30) / props.max : 0;
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg role="img" aria-label={props.title} width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
        {props.bars.map((bar, i) => {
          let y = height - 20;
          return (
            <g>
              {bar.parts.map((p) => {
                const h = Math.max(p.value * scale, p.value > 0 ? 1 : 0);
                y -= h;
                return (
                  <rect x={14 + i * 56} y={y} width={40} height={h} fill={SERIES[p.series % SERIES.length]}>
                    <title>{`${bar.label}: ${p.text}`}</title>
                  </rect>
                );
              })}
              <text x={34 + i * 56} y={height - 5} text-anchor="middle" font-size="11">{bar.label}</text>
            </g>
          );
        })}
      </svg>
      {props.legend && (
        <ul class="legend">
          {props.legend.map((name, i) => (
            <li><span class="swatch" style={{ background: SERIES[i % SERIES.length] }} /> {name}</li>
          ))}
        </ul>
      )}
    </figure>
  );
}

/** The currencies anything was collected in. */
function collectedCurrencies(r: GetKpisResponse): string[] {
  return [...new Set((r.total?.collected ?? []).flatMap((c) => (c.amount ? [c.amount.currencyCode] : [])))].sort();
}

/** The currencies of the books taken in the period. */
function bookCurrencies(r: GetKpisResponse): string[] {
  return [...new Set(r.groups.flatMap((g) => g.book?.currencies.map((c) => c.currencyCode) ?? []))].sort();
}

function collectedIn(g: KpiGroup, code: string): Money | undefined {
  return g.collected.find((c) => c.amount?.currencyCode === code)?.amount;
}

function Weekly({ r }: { r: GetKpisResponse }) {
  return (
    <div class="charts">
      {collectedCurrencies(r).length === 0 && <p>Nothing collected in these weeks.</p>}
      {collectedCurrencies(r).map((code) => {
        const amounts = r.groups.map((g) => collectedIn(g, code));
        const bars = r.groups.map((g, i) => ({
          label: short(g.periodStart),
          parts: [{ value: size(amounts[i]), text: amounts[i] ? money(amounts[i]) : `${code} 0`, series: 0 }],
        }));
        return (
          <div class="chart-pair">
            <BarChart title={`Collected per week, ${code}`} bars={bars} max={Math.max(...bars.map((b) => b.parts[0].value))} />
            <table class="compact">
              <caption class="sr-only">Collected per week, {code}</caption>
              <thead><tr><th scope="col">Week from</th><th scope="col" class="num">Collected</th></tr></thead>
              <tbody>
                {r.groups.map((g, i) => <tr><td>{date(g.periodStart)}</td><td class="num">{amounts[i] ? money(amounts[i]) : "—"}</td></tr>)}
              </tbody>
            </table>
          </div>
        );
      })}
      <div class="chart-pair">
        <BarChart
          title="Promises kept (by count)"
          bars={r.groups.map((g) => ({
            label: short(g.periodStart),
            parts: [{ value: g.promiseKeptRate ? Number(g.promiseKeptRate) : 0, text: g.promiseKeptRate || "none judged", series: 1 }],
          }))}
          max={1}
        />
        <table class="compact">
          <caption class="sr-only">Promises kept per week</caption>
          <thead><tr><th scope="col">Week from</th><th scope="col" class="num">Kept rate</th><th scope="col" class="num">Kept / judged</th></tr></thead>
          <tbody>
            {r.groups.map((g) => {
              const n = (list: KpiGroup["promisesKept"]) => list.reduce((s, c) => s + c.count, 0n);
              const judged = n(g.promisesKept) + n(g.promisesPartlyKept) + n(g.promisesBroken);
              return <tr><td>{date(g.periodStart)}</td><td class="num">{g.promiseKeptRate || "—"}</td><td class="num">{`${n(g.promisesKept)} / ${judged}`}</td></tr>;
            })}
          </tbody>
        </table>
      </div>
      {bookCurrencies(r).map((code) => {
        const parts = ["current", "1–30 days", "31–60 days", "61–90 days", "over 90 days"];
        const rows = r.groups.map((g) => ({ g, c: g.book?.currencies.find((c) => c.currencyCode === code) }));
        const bars = rows.map(({ g, c }) => ({
          label: short(g.periodEnd),
          parts: c
            ? [c.current, c.days1To30, c.days31To60, c.days61To90, c.daysOver90].map((m, series) => ({ value: size(m), text: `${parts[series]} ${money(m)}`, series }))
            : [],
        }));
        const max = Math.max(...bars.map((b) => b.parts.reduce((s, p) => s + p.value, 0)));
        return (
          <div class="chart-pair">
            <BarChart title={`The book's ageing at each week's end, ${code}`} bars={bars} max={max} legend={parts} />
            <table class="compact">
              <caption class="sr-only">The book's ageing at each week's end, {code}</caption>
              <thead><tr><th scope="col">Week to</th><th scope="col">Book of</th><th scope="col" class="num">Receivables</th><th scope="col" class="num">Over 90 days</th><th scope="col" class="num">DSO</th></tr></thead>
              <tbody>
                {rows.map(({ g, c }) => (
                  <tr><td>{date(g.periodEnd)}</td><td>{c ? date(g.book?.asOf) : "none taken"}</td><td class="num">{c ? money(c.receivables) : "—"}</td><td class="num">{c ? money(c.daysOver90) : "—"}</td><td class="num">{c?.dso || "—"}</td></tr>
                ))}
              </tbody>
            </table>
          </div>
        );
      })}
    </div>
  );
}

function ByAgent({ r }: { r: GetKpisResponse }) {
  const list = (l: KpiGroup["collected"]) => l.map((c) => money(c.amount)).join(", ") || "—";
  return (
    <table id="report-agents">
      <caption>By agent, {date(r.fromDate)} to {date(r.toDate)}</caption>
      <thead>
        <tr>
          <th scope="col">Agent</th><th scope="col" class="num">Collected</th><th scope="col" class="num">Outbound</th>
          <th scope="col" class="num">Right party</th><th scope="col" class="num">Calls an hour</th><th scope="col" class="num">Promises kept</th>
          <th scope="col" class="num">Plans</th><th scope="col" class="num">Disputes raised</th><th scope="col">Rules broken</th>
        </tr>
      </thead>
      <tbody>
        {r.groups.map((g) => (
          <tr>
            <td>{g.key || "(nobody: payments no call or plan earned)"}</td>
            <td class="num">{list(g.collected)}</td>
            <td class="num">{g.outboundAttempts.toString()}</td>
            <td class="num">{g.rightPartyContactRate || "—"}</td>
            <td class="num">{g.callsPerAgentHour || "—"}</td>
            <td class="num">{g.promiseKeptRate || "—"}</td>
            <td class="num">{g.plansCreated.toString()}</td>
            <td class="num">{g.disputesRaised.toString()}</td>
            <td>{g.ruleBreaches.map((b) => `${label(ContactBlockReasonSchema.value, b.rule)} ${b.count}`).join(", ") || "none"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TeamReport() {
  const [weekly, setWeekly] = useState<GetKpisResponse>();
  const [agents, setAgents] = useState<GetKpisResponse>();
  const [failure, setFailure] = useState<Problem>();

  useEffect(() => {
    const to = new Date();
    const from = new Date(to);
    // Monday, WEEKS - 1 weeks before this week's.
    from.setDate(to.getDate() - ((to.getDay() + 6) % 7) - 7 * (WEEKS - 1));
    const ask = (groupBy: KpiGrouping) => reporting.getKpis({ fromDate: pbDate(from), toDate: pbDate(to), groupBy });
    Promise.all([ask(KpiGrouping.WEEK), ask(KpiGrouping.AGENT)])
      .then(([w, a]) => {
        setWeekly(w);
        setAgents(a);
      })
      .catch((e) => setFailure(problem(e)));
  }, []);

  if (failure) return <ProblemBox problem={failure} />;
  if (!weekly || !agents) return <p>Counting…</p>;
  return (
    <div class="report">
      <p class="note">Weeks from {date(weekly.fromDate)} to {date(weekly.toDate)}, days in {weekly.timeZone}.</p>
      <Weekly r={weekly} />
      <ByAgent r={agents} />
    </div>
  );
}
