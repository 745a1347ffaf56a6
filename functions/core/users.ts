/** What DELETE /users answers: the user is forgotten, with how many interactions of theirs were deleted (0: none was known). */
export interface ForgetAnswer {
  user_id: string;
  status: 'forgotten';
  interactions: number;
}

/** What DELETE /internal-users answers: the mark is gone; `internal` says whether the configuration still names the user. */
export interface UnmarkAnswer {
  user_id: string;
  status: 'unmarked';
  interactions: number;
  internal: boolean;
}
