import { FLIGHT } from './driver.js';
import type { Timeline } from './timeline.js';

/** What the story without Unfazed ended with. */
export interface NaiveResult {
  /** Error messages the passenger saw. */
  readonly errorsShown: number;
  /** Tries the passenger made. */
  readonly tries: number;
}

/**
 * The passenger of the story without Unfazed: checks in, sees an error, tries again — as a
 * person would — until it works.
 */
export async function runNaive(checkInUrl: string, timeline: Timeline): Promise<NaiveResult> {
  const passenger = { passengerId: 'P00', name: 'Grace Hopper', flight: FLIGHT };
  let errorsShown = 0;
  for (let tries = 1; tries <= 4; tries++) {
    const res = await fetch(`${checkInUrl}/v0/check-ins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(passenger),
    });
    const body = (await res.json()) as { error?: string };
    if (res.ok) {
      timeline.line('web UI P00', `${passenger.name}: 200 — checked in (try ${tries})`, 'ok');
      return { errorsShown, tries };
    }
    errorsShown++;
    timeline.line('web UI P00', `${passenger.name}: ${res.status} — "${body.error ?? ''}"`, 'bad');
    timeline.note(tries === 1 ? 'the passenger clicks "check in" again…' : 'and again…');
  }
  return { errorsShown, tries: 4 };
}
