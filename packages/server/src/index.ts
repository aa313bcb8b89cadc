/** @tally/server: the backend (`tally serve`). */
export {};
