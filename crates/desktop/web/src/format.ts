// Money, dates and enum names as the desktop writes them. Money is exact: strings and bigints,
// never floating point.

import type { DescEnumValue } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Date as PbDate, Money } from "./gen/recoup/v1/common_pb";

/** Minor-unit digits of a currency, as the browser's ICU data knows them. */
function exponent(code: string): number {
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency: code }).resolvedOptions()
      .maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** "GBP 1,234.50", exactly (the service's own way of writing money). */
export function money(m: Money | undefined): string {
  if (!m || !m.currencyCode) return "—";
  const negative = m.units < 0n || m.nanos < 0;
  const units = (m.units < 0n ? -m.units : m.units).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const digits = exponent(m.currencyCode);
  const fraction = Math.abs(m.nanos).toString().padStart(9, "0").slice(0, digits);
  return `${negative ? "-" : ""}${m.currencyCode} ${units}${digits > 0 ? "." + fraction : ""}`;
}

/** A typed amount ("1234.5", "1,234.50") as Money, or undefined when it is not a plain amount. */
export function parseMoney(text: string, currencyCode: string): Money | undefined {
  const clean = text.replace(/,/g, "").trim();
  const match = /^(\d{1,15})(?:\.(\d{1,9}))?$/.exec(clean);
  if (!match) return undefined;
  const nanos = Number((match[2] ?? "").padEnd(9, "0"));
  return { $typeName: "recoup.v1.Money", currencyCode, units: BigInt(match[1]), nanos };
}

/** The amount as typed back into a field ("1234.50"). */
export function moneyInput(m: Money | undefined): string {
  if (!m) return "";
  const digits = exponent(m.currencyCode);
  const fraction = Math.abs(m.nanos).toString().padStart(9, "0").slice(0, digits);
  return `${m.units}${digits > 0 ? "." + fraction : ""}`;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** "2 December 2026". */
export function date(d: PbDate | undefined): string {
  return d && d.year ? `${d.day} ${MONTHS[d.month - 1]} ${d.year}` : "—";
}

/** An <input type=date> value ("2026-12-02") as a Date message. */
export function parseDate(text: string): PbDate | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m ? { $typeName: "recoup.v1.Date", year: +m[1], month: +m[2], day: +m[3] } : undefined;
}

export function dateInput(d: PbDate | undefined): string {
  if (!d || !d.year) return "";
  return `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}`;
}

/** A timestamp in a time zone ("4 Dec 2026, 18:05"), by default the agent's own. */
export function time(ts: Timestamp | undefined, timeZone?: string): string {
  if (!ts) return "—";
  return new Intl.DateTimeFormat("en-GB", {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone,
  }).format(timestampDate(ts));
}

/** The local time now in a zone, with the zone's name. */
export function localNow(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat("en-GB", { weekday: "short", hour: "2-digit", minute: "2-digit", timeZone, timeZoneName: "short" }).format(new Date());
  } catch {
    return "unknown time zone";
  }
}

/** An enum value in words: `TONE_FINAL_NOTICE` -> "Final notice". */
export function label(values: Record<number, DescEnumValue>, value: number): string {
  const v = values[value];
  if (!v) return String(value);
  const words = v.localName.replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** mm:ss until a timestamp, or undefined once it has passed. */
export function countdown(until: Timestamp | undefined, now: number): string | undefined {
  if (!until) return undefined;
  const left = Math.floor((timestampDate(until).getTime() - now) / 1000);
  if (left <= 0) return undefined;
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}
